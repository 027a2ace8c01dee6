// StorageService checked by a client that is not ours (@grpc/grpc-js with
// protobufjs): what it puts it reads back byte for byte, scans page through
// every live key in byte order without gaps or repeats, versions are kept up
// to the server's bound, and conditional writes, deletions, expiry and an
// oversized value get the right codes. One PASS or FAIL line per check.
//   node storage_client.js PROTO_DIR ADDR
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, addr] = process.argv.slice(2);
const definition = loader.loadSync('aurigraph/storage/v1/storage.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
});
const { StorageService } = grpc.loadPackageDefinition(definition).aurigraph.storage.v1;
const client = new StorageService(addr, grpc.credentials.createInsecure(),
                                  { 'grpc.max_send_message_length': 8 << 20 });

function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}
async function code(method, request) {
  try {
    await call(method, request);
    return 'OK';
  } catch (error) {
    return Object.keys(grpc.status).find((name) => grpc.status[name] === error.code);
  }
}

let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failed += 1;
}

async function main() {
  const values = new Map();
  for (let i = 0; i < 300; i++) {
    const key = `node/k${String(i).padStart(3, '0')}`;
    const value = crypto.randomBytes(1 + (i % 50));
    await call('Put', { key, value });
    values.set(key, value);
  }
  for (let i = 0; i < 300; i += 11) {
    const key = `node/k${String(i).padStart(3, '0')}`;
    await call('Delete', { key });
    values.delete(key);
  }
  const got = await call('Get', { key: 'node/k001' });
  check(got.value.equals(values.get('node/k001')) && got.version === 1, 'Get returns the bytes put');

  const scanned = [];
  let token = '';
  let pages = 0;
  do {
    const page = await call('Scan', { start_key: 'node/', end_key: 'node0', limit: 70, page_token: token });
    for (const e of page.entries) scanned.push(e);
    token = page.next_page_token;
    pages += 1;
  } while (token && pages < 100);
  const expected = [...values.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  check(scanned.length === expected.length && scanned.every((e, i) => e.key === expected[i]),
        `Scan pages (${pages} of at most 70) list all ${expected.length} live keys in byte order`);
  check(scanned.every((e) => e.value.equals(values.get(e.key))), 'Scan returns every value as put');

  for (let i = 1; i <= 20; i++) await call('Put', { key: 'node/versioned', value: Buffer.from(`v${i}`) });
  const history = await call('GetVersion', { key: 'node/versioned' });
  const numbers = history.versions.map((v) => v.version);
  check(numbers.length === 16 && numbers[0] === 20 && numbers[15] === 5,
        `GetVersion keeps the newest 16, newest first (${numbers[0]}..${numbers[numbers.length - 1]})`);
  const old = await call('Get', { key: 'node/versioned', version: 5 });
  check(old.value.toString() === 'v5', 'an older kept version reads back');
  check(await code('Get', { key: 'node/versioned', version: 4 }) === 'NOT_FOUND', 'a dropped version: NOT_FOUND');
  check(await code('Put', { key: 'node/versioned', value: Buffer.from('x'), if_version: 7 }) ===
        'FAILED_PRECONDITION', 'a stale if_version: FAILED_PRECONDITION');
  check(await code('Put', { key: 'node/versioned', value: Buffer.from('x'), if_version: 20 }) === 'OK',
        'the current if_version: OK');
  check(await code('Get', { key: 'node/k000' }) === 'NOT_FOUND', 'a deleted key: NOT_FOUND');
  const deletedHistory = await call('GetVersion', { key: 'node/k000' });
  check(deletedHistory.versions[0].deleted && deletedHistory.versions[1].value_bytes === 1,
        'its history shows the deletion over the value');
  await call('Put', { key: 'node/ttl', value: Buffer.from('soon gone'), ttl_ms: 300 });
  check(await code('Get', { key: 'node/ttl' }) === 'OK', 'a value with a TTL reads back at first');
  await new Promise((resolve) => setTimeout(resolve, 600));
  check(await code('Get', { key: 'node/ttl' }) === 'NOT_FOUND', 'and is gone after it');
  check(await code('Put', { key: 'node/big', value: Buffer.alloc(2 << 20) }) === 'INVALID_ARGUMENT',
        'a 2 MiB value (over --storage-max-value): INVALID_ARGUMENT');
  check(await code('Put', { key: '', value: Buffer.from('x') }) === 'INVALID_ARGUMENT', 'an empty key: INVALID_ARGUMENT');
}

main().then(() => process.exit(failed ? 1 : 0), (error) => {
  console.log(`FAIL ${error.message}`);
  process.exit(1);
});

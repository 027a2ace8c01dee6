// CryptoService checked by code that is not ours: @grpc/grpc-js calls the
// reference server, and Node's own crypto (OpenSSL in Node, through its own
// bindings) verifies the signatures against the public keys the server hands
// out. Prints one PASS or FAIL line per check; exits 1 if any failed.
//   node crypto_client.js PROTO_DIR ADDR
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, addr] = process.argv.slice(2);
const definition = loader.loadSync('aurigraph/crypto/v1/crypto.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const {CryptoService} = grpc.loadPackageDefinition(definition).aurigraph.crypto.v1;
const client = new CryptoService(addr, grpc.credentials.createInsecure());

function call(method, request) {
  return new Promise((resolve, reject) => {
    client[method](
        request, {deadline: Date.now() + 10000},
        (error, response) => error ? reject(error) : resolve(response));
  });
}

let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failed += 1;
}

function nodeVerifies(algorithm, publicKeyDer, data, signature) {
  const key = crypto.createPublicKey({key: publicKeyDer, format: 'der', type: 'spki'});
  const digest = algorithm === 'KEY_ALGORITHM_ED25519' ? null : 'sha256';
  return crypto.verify(digest, data, key, signature);
}

async function main() {
  for (const algorithm of ['KEY_ALGORITHM_ED25519', 'KEY_ALGORITHM_ECDSA_P256_SHA256']) {
    const id = `node-${algorithm}`;
    const created = await call('RotateKeys', {key_id: id, algorithm});
    const key = created.key;
    check(key.version === 1 && key.algorithm === algorithm, `${algorithm}: created as version 1`);
    const keyObject = crypto.createPublicKey({key: key.public_key, format: 'der', type: 'spki'});
    check(
        keyObject.asymmetricKeyType === (algorithm === 'KEY_ALGORITHM_ED25519' ? 'ed25519' : 'ec'),
        `${algorithm}: Node reads the public key as ${keyObject.asymmetricKeyType}`);
    if (keyObject.asymmetricKeyType === 'ec') {
      check(keyObject.asymmetricKeyDetails.namedCurve === 'prime256v1', `${algorithm}: on P-256`);
    }
    check(
        crypto.createHash('sha256').update(key.public_key).digest('hex') === key.fingerprint,
        `${algorithm}: the fingerprint is SHA-256 of the public key`);
    const data = crypto.randomBytes(300);
    const signed = await call('SignData', {key_id: id, data});
    check(
        nodeVerifies(algorithm, key.public_key, data, signed.signature),
        `${algorithm}: Node verifies the server's signature`);
    const tampered = Buffer.from(data);
    tampered[7] ^= 1;
    check(
        !nodeVerifies(algorithm, key.public_key, tampered, signed.signature),
        `${algorithm}: Node rejects it over other data`);

    const rotated = await call('RotateKeys', {key_id: id});
    check(
        rotated.key.version === 2 && rotated.previous_version === 1 &&
            rotated.key.public_key.compare(key.public_key) !== 0,
        `${algorithm}: rotated to version 2 with a new key`);
    const old = await call(
        'VerifySignature', {key_id: id, key_version: 1, data, signature: signed.signature});
    const current = await call('VerifySignature', {key_id: id, data, signature: signed.signature});
    check(
        old.valid && !current.valid && current.key_version === 2,
        `${algorithm}: the old signature verifies with version 1 only`);
    const resigned = await call('SignData', {key_id: id, data});
    check(
        resigned.key_version === 2 &&
            nodeVerifies(algorithm, rotated.key.public_key, data, resigned.signature),
        `${algorithm}: signatures after the rotation verify against version 2's key`);
  }

  const derive = (key_id) => call('DeriveKey', {
    parent_key_id: 'node-KEY_ALGORITHM_ED25519',
    parent_version: 1,
    key_id,
    salt: Buffer.from('salt'),
    info: Buffer.from('payments'),
  });
  const a = await derive('node-derived-a');
  const b = await derive('node-derived-b');
  check(
      a.key.public_key.compare(b.key.public_key) === 0 && a.parent_version === 1,
      'DeriveKey: the same parent version, salt and info give the same key');
  const derivedData = Buffer.from('derived');
  const derivedSig = await call('SignData', {key_id: 'node-derived-a', data: derivedData});
  check(
      nodeVerifies('KEY_ALGORITHM_ED25519', a.key.public_key, derivedData, derivedSig.signature),
      'DeriveKey: Node verifies a signature of the derived key');

  for (const algorithm of ['KEY_ALGORITHM_DILITHIUM', 'KEY_ALGORITHM_KYBER']) {
    try {
      await call('RotateKeys', {key_id: 'pq', algorithm});
      check(false, `${algorithm}: refused`);
    } catch (error) {
      check(
          error.code === grpc.status.UNIMPLEMENTED && /post-quantum/.test(error.details),
          `${algorithm}: UNIMPLEMENTED (${error.details})`);
    }
  }
  try {
    await call('SignData', {key_id: 'node-missing', data: Buffer.from('x')});
    check(false, 'an unknown key is refused');
  } catch (error) {
    check(error.code === grpc.status.NOT_FOUND, `an unknown key: NOT_FOUND (${error.details})`);
  }
}

main().then(() => process.exit(failed ? 1 : 0), (error) => {
  console.log(`FAIL ${error.message}`);
  process.exit(1);
});

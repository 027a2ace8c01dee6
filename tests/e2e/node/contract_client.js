// ContractService checked by a client that is not ours (@grpc/grpc-js with
// protobufjs): the sample token contract deployed at the SHA-256 of its source
// (computed here), minted and transferred with balances checked against a
// ledger kept here, failed calls changing nothing, runaway code stopped by gas,
// bad source and bad calls answered with the right codes, the state read
// through StorageService and decoded here, and a change stream that carries
// every committed call in order. One PASS or FAIL line per check.
//   node contract_client.js PROTO_DIR ADDR SCENARIO_DIR [check-persisted]
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, addr, scenarioDir, mode] = process.argv.slice(2);
const definition = loader.loadSync(
  ['aurigraph/contract/v1/contract.proto', 'aurigraph/storage/v1/storage.proto',
    'aurigraph/transaction/v1/transaction.proto'],
  { includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const root = grpc.loadPackageDefinition(definition).aurigraph;
const contracts = new root.contract.v1.ContractService(addr, grpc.credentials.createInsecure());
const storage = new root.storage.v1.StorageService(addr, grpc.credentials.createInsecure());
const transactions = new root.transaction.v1.TransactionService(addr, grpc.credentials.createInsecure());

// A transaction whose content hash is computed here (transaction.proto's rule).
let txCount = 0;
function transaction(sender, call) {
  const tx = { id: `node-tx-${process.pid}-${txCount += 1}`, sender, receiver: 'token', amount: 1,
    nonce: txCount, memo: '', contract_call: call };
  tx.content_hash = crypto.createHash('sha256')
    .update([tx.id, tx.sender, tx.receiver, '1', String(tx.nonce), tx.memo].join('\n')).digest('hex');
  return tx;
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}
async function failure(client, method, request) {
  try {
    await call(client, method, request);
    return { code: 'OK', message: '' };
  } catch (error) {
    return {
      code: Object.keys(grpc.status).find((name) => grpc.status[name] === error.code),
      message: error.details,
    };
  }
}

let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failed += 1;
}

const text = (s) => ({ text_value: s });
const int = (i) => ({ int_value: String(i) });
const source = fs.readFileSync(path.join(scenarioDir, 'contracts', 'token.stack'), 'utf8');
const address = crypto.createHash('sha256').update(source, 'utf8').digest('hex');

async function execute(fn, args, caller, extra = {}) {
  return call(contracts, 'ExecuteFunction', { address, function: fn, args, caller, ...extra });
}
async function balance(account) {
  const out = await execute('balance', [text(account)], 'anyone');
  return Number(out.result.int_value);
}

async function checkPersisted() {
  check(await balance('alice') === 40 && await balance('bob') === 60,
    'after a restart on the same --data-dir the contract and its balances are there');
  const again = await call(contracts, 'DeployContract', { source, init_args: [text('x'), int(0)], caller: 'x' });
  check(again.already_deployed, 'after a restart the same source is already deployed');
}

async function main() {
  if (mode === 'check-persisted') return checkPersisted();
  const deployed = await call(contracts, 'DeployContract',
    { source, init_args: [text('minter'), int(0)], caller: 'deployer' });
  check(deployed.address === address && !deployed.already_deployed,
    `deployed at the SHA-256 of its source (${address.slice(0, 12)}...)`);
  check(deployed.functions.join(',') === 'init,mint,transfer,balance,supply',
    `its functions listed: ${deployed.functions.join(', ')}`);

  // A change stream, opened before the calls it should see.
  const changes = [];
  const stream = contracts.StreamStateChanges({ address });
  stream.on('data', (change) => changes.push(change));
  stream.on('error', () => {});
  await new Promise((resolve) => setTimeout(resolve, 300));

  const ledger = new Map();
  const minted = await execute('mint', [text('alice'), int(100)], 'minter');
  ledger.set('alice', 100);
  check(minted.result.int_value === '100' && minted.writes.length === 2,
    'mint returns the new balance and its two writes');
  let committed = 1;
  const rounds = [['alice', 'bob', 30], ['bob', 'carol', 5], ['carol', 'alice', 5],
    ['alice', 'bob', 35], ['bob', 'alice', 0], ['dave', 'alice', 1], ['alice', 'alice', 10]];
  let codesRight = true;
  for (const [from, to, amount] of rounds) {
    const have = ledger.get(from) || 0;
    const outcome = await failure(contracts, 'ExecuteFunction',
      { address, function: 'transfer', args: [text(to), int(amount)], caller: from });
    const expected = amount <= 0 || have < amount ? 'FAILED_PRECONDITION' : 'OK';
    if (outcome.code !== expected) {
      codesRight = false;
      console.log(`  transfer ${from}->${to} ${amount}: ${outcome.code} ${outcome.message}`);
    }
    if (expected === 'OK') {
      ledger.set(from, have - amount);
      ledger.set(to, (ledger.get(to) || 0) + amount);
      committed += 1;
    }
  }
  check(codesRight, 'transfers commit, or fail with FAILED_PRECONDITION when the caller lacks the amount');
  let balancesRight = true;
  for (const account of ['alice', 'bob', 'carol', 'dave']) {
    const got = await balance(account);
    if (got !== (ledger.get(account) || 0)) {
      balancesRight = false;
      console.log(`  ${account}: ${got}, the ledger says ${ledger.get(account) || 0}`);
    }
  }
  check(balancesRight, 'every balance matches the ledger kept here (failed calls changed nothing)');
  const insufficient = await failure(contracts, 'ExecuteFunction',
    { address, function: 'transfer', args: [text('bob'), int(1000)], caller: 'alice' });
  check(insufficient.message.includes('insufficient balance') && /line \d+/.test(insufficient.message),
    `the refusal names the line and the reason: "${insufficient.message}"`);
  const notMinter = await failure(contracts, 'ExecuteFunction',
    { address, function: 'mint', args: [text('bob'), int(5)], caller: 'bob' });
  check(notMinter.code === 'FAILED_PRECONDITION', 'only the minter mints');

  // The state through GetState, and through StorageService decoded here.
  const state = await call(contracts, 'GetState', { address, key: 'balance/alice' });
  check(state.entries[0].value.int_value === String(ledger.get('alice')),
    'GetState reads a balance');
  const page = await call(contracts, 'GetState', { address, limit: 1000 });
  const keys = page.entries.map((e) => e.key);
  check(JSON.stringify(keys) === JSON.stringify([...keys].sort()) && keys.includes('supply')
    && keys.includes('minter'), `GetState pages the state in key order (${keys.length} keys)`);
  const stored = await call(storage, 'Get', { key: `contract/state/${address}/balance/bob` });
  const raw = Buffer.from(stored.value);
  check(raw[0] === 'i'.charCodeAt(0) && raw.readBigInt64LE(1) === BigInt(ledger.get('bob')),
    'StorageService reads the contract state the engine wrote');
  const overwrite = await failure(storage, 'Put',
    { key: `contract/state/${address}/balance/bob`, value: Buffer.from('i00000000') });
  check(overwrite.code === 'PERMISSION_DENIED', 'StorageService may not write contract state');

  // Runaway code, bad source, bad calls.
  const loop = await call(contracts, 'DeployContract', { source: 'fn spin\n  top: jmp top\nend\n' });
  const spun = await failure(contracts, 'ExecuteFunction',
    { address: loop.address, function: 'spin', gas_limit: 5000 });
  check(spun.code === 'RESOURCE_EXHAUSTED' && spun.message.includes('out of gas'),
    `an endless loop ends when its gas does: ${spun.message}`);
  const tooMuchGas = await failure(contracts, 'ExecuteFunction',
    { address: loop.address, function: 'spin', gas_limit: '100000000000' });
  check(tooMuchGas.code === 'INVALID_ARGUMENT', 'a gas_limit above the server\'s bound is refused');
  const bad = await failure(contracts, 'DeployContract', { source: 'fn f\n  1 2 plus\nend' });
  check(bad.code === 'INVALID_ARGUMENT' && bad.message.includes('source line 2'),
    `bad source is refused by line: ${bad.message}`);
  const nobody = await failure(contracts, 'ExecuteFunction',
    { address: 'ab'.repeat(32), function: 'mint' });
  const noFunction = await failure(contracts, 'ExecuteFunction', { address, function: 'burn' });
  check(nobody.code === 'NOT_FOUND' && noFunction.code === 'NOT_FOUND',
    'an unknown contract or function is NOT_FOUND');
  const noArg = await failure(contracts, 'ExecuteFunction',
    { address, function: 'transfer', args: [text('bob')], caller: 'alice' });
  check(noArg.code === 'INVALID_ARGUMENT', 'a missing argument is INVALID_ARGUMENT');

  await new Promise((resolve) => setTimeout(resolve, 300));
  stream.cancel();
  const sequences = changes.map((c) => Number(c.sequence));
  const consecutive = sequences.every((s, i) => i === 0 || s === sequences[i - 1] + 1);
  check(changes.length === committed && consecutive && changes[0].function === 'mint',
    `the change stream carried the ${committed} committed calls in order (${changes.length} received)`);
  const last = changes[changes.length - 1];
  check(last && last.writes.every((w) => w.value.int_value !== undefined),
    'each change carries its writes');
  // Transfers through transactions: each runs its call when it commits, the
  // sender as the caller, and answers with the call's receipt.
  const viaTx = await call(transactions, 'SubmitTransaction', transaction('alice',
    { address, function: 'transfer', args: [text('carol'), int(5)] }));
  check(viaTx.status === 'TRANSACTION_STATUS_ACCEPTED' && viaTx.contract.code === 0
    && viaTx.contract.result.result.int_value === '35',
  'a transaction calling transfer commits and its receipt carries the result (alice 35)');
  const refusedTx = await call(transactions, 'SubmitTransaction', transaction('dave',
    { address, function: 'transfer', args: [text('alice'), int(1)] }));
  check(refusedTx.status === 'TRANSACTION_STATUS_ACCEPTED' && refusedTx.contract.code === 9
    && refusedTx.contract.error.includes('insufficient balance'),
  `a transaction whose call fails still commits; its receipt says why: ${refusedTx.contract.error}`);
  const batch = await call(transactions, 'BatchSubmitTransactions', { batch_id: `b-${process.pid}`,
    transactions: [transaction('carol', { address, function: 'transfer', args: [text('alice'), int(3)] }),
      transaction('carol', { address, function: 'transfer', args: [text('alice'), int(2)] })] });
  check(batch.accepted === 2 && batch.results.every((r) => r.contract.code === 0)
    && await balance('alice') === 40 && await balance('carol') === 0,
  'a batch runs its calls in order (carol sends back 3 and 2: alice 40, carol 0)');

  // What the check after a restart expects (the transfers above end there).
  check(ledger.get('alice') === 40 && ledger.get('bob') === 60, 'the ledger ends at alice 40, bob 60');
}

main().then(() => {
  contracts.close();
  storage.close();
  transactions.close();
  process.exit(failed ? 1 : 0);
}, (error) => {
  console.log(`FAIL ${error.stack}`);
  process.exit(1);
});

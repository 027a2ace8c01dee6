// NetworkService on a 3-node cluster, checked by a client that is not ours
// (@grpc/grpc-js with protobufjs): the peer list, a broadcast from n1 seen on
// the other nodes' event streams with its bytes intact, a direct message seen
// only where it was sent, a partition injected with ConsensusAdminService
// reported as a failed delivery and healed, and a stranger refused; then a
// contract deployed through n2 and called by a transaction through n3, its
// state read alike on every node (replicated through consensus). One PASS or
// FAIL line per check.
//   node network_client.js PROTO_DIR ADDR_N1 ADDR_N2 ADDR_N3
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, ...addrs] = process.argv.slice(2);
const definition = loader.loadSync(
  ['aurigraph/network/v1/network.proto', 'aurigraph/consensus/v1/consensus.proto',
    'aurigraph/transaction/v1/transaction.proto', 'aurigraph/contract/v1/contract.proto'],
  { includeDirs: [protoDir], keepCase: true, longs: Number, enums: String, defaults: true });
const root = grpc.loadPackageDefinition(definition).aurigraph;
const nodes = addrs.map((a) => new root.network.v1.NetworkService(a, grpc.credentials.createInsecure()));
const admin = new root.consensus.v1.ConsensusAdminService(addrs[0], grpc.credentials.createInsecure());

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + 10000 }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}
async function code(client, method, request) {
  try {
    await call(client, method, request);
    return 'OK';
  } catch (error) {
    return Object.keys(grpc.status).find((name) => grpc.status[name] === error.code);
  }
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let failed = 0;
function check(ok, what) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failed += 1;
}

async function main() {
  const list = await call(nodes[0], 'GetPeerList', {});
  check(list.self === 'n1' && list.peers.map((p) => p.node_id).join() === 'n1,n2,n3'
    && list.peers[0].self && list.peers[0].state === 'SELF',
    `n1 lists the members: ${list.peers.map((p) => `${p.node_id} ${p.state}`).join(', ')}`);

  const seen = [[], [], []];
  const streams = nodes.map((node, i) => {
    const stream = node.StreamNetworkEvents({ topic: 'blocks' });
    stream.on('data', (event) => seen[i].push(event));
    stream.on('error', () => {});
    return stream;
  });
  await sleep(300);
  const payload = crypto.randomBytes(1000);
  const sent = await call(nodes[0], 'BroadcastMessage', { topic: 'blocks', payload });
  check(sent.delivered === 3 && sent.failed === 0 && sent.deliveries.every((d) => d.delivered),
    `a broadcast from n1 is delivered to all 3 (latencies ${sent.deliveries.map((d) => `${(d.latency_nanos / 1e3).toFixed(0)} us`).join(', ')})`);
  await call(nodes[0], 'BroadcastMessage', { topic: 'other', payload: Buffer.from('x') });
  const direct = await call(nodes[0], 'SendDirectMessage', { node_id: 'n3', topic: 'blocks', payload: Buffer.from('to n3') });
  check(direct.delivery.delivered && direct.delivery.node_id === 'n3', 'a direct message to n3 is delivered');
  await sleep(300);
  const intact = seen.every((events) => events.length > 0
    && Buffer.from(events[0].message.payload).equals(payload) && events[0].message.from_node === 'n1'
    && events[0].message.message_id === sent.message_id);
  check(intact, 'every node\'s stream carried the broadcast, its bytes, sender and id intact');
  check(seen[0].length === 1 && seen[1].length === 1 && seen[2].length === 2,
    `the topic filter and the direct message: n1 saw ${seen[0].length}, n2 ${seen[1].length}, n3 ${seen[2].length} (1, 1, 2 expected)`);

  await call(admin, 'Partition', { node_ids: ['n3'] });
  const cut = await call(nodes[0], 'BroadcastMessage', { topic: 'blocks', payload: Buffer.from('p') });
  const n3 = cut.deliveries[2];
  check(cut.delivered === 2 && cut.failed === 1 && !n3.delivered && n3.error.includes('partitioned'),
    `partitioned from n3, n1's broadcast reports it: ${n3.error}`);
  const listed = await call(nodes[0], 'GetPeerList', {});
  check(listed.peers[2].state === 'PARTITIONED' && listed.peers[2].send_failures >= 1,
    'the peer list shows n3 PARTITIONED, with its failure counted');
  const back = await code(nodes[2], 'SendDirectMessage', { node_id: 'n1', topic: 'blocks' });
  const backAnswer = await call(nodes[2], 'SendDirectMessage', { node_id: 'n1', topic: 'blocks' });
  check(back === 'OK' && !backAnswer.delivery.delivered,
    `n3's message to n1 is refused by n1 while partitioned: ${backAnswer.delivery.error}`);
  await call(admin, 'Heal', {});
  const healed = await call(nodes[0], 'BroadcastMessage', { topic: 'blocks', payload: Buffer.from('h') });
  check(healed.delivered === 3, 'healed, a broadcast reaches all 3 again');
  await call(admin, 'SetPeerLatency', { latency_us: 30000 });
  const slow = await call(nodes[0], 'SendDirectMessage', { node_id: 'n2', topic: 'blocks', payload: Buffer.from('s') });
  await call(admin, 'Heal', {});
  const slowMs = Number(slow.delivery.latency_nanos) / 1e6;
  check(slow.delivery.delivered && slowMs >= 30,
    `with 30 ms of peer latency added on n1, its direct message to n2 took ${slowMs.toFixed(1)} ms`);

  const stranger = await code(nodes[1], 'DeliverMessage', { from_node: 'mallory', topic: 'blocks' });
  check(stranger === 'PERMISSION_DENIED', 'DeliverMessage from a non-member is PERMISSION_DENIED');
  const badTopic = await code(nodes[0], 'BroadcastMessage', { topic: '', payload: Buffer.from('x') });
  const unknown = await code(nodes[0], 'SendDirectMessage', { node_id: 'n9', topic: 't' });
  check(badTopic === 'INVALID_ARGUMENT' && unknown === 'NOT_FOUND',
    'an empty topic is INVALID_ARGUMENT, an unknown node NOT_FOUND');
  const contracts = addrs.map((a) =>
    new root.contract.v1.ContractService(a, grpc.credentials.createInsecure()));
  const deployed = await call(contracts[1], 'DeployContract', {
    source: `fn bump "n" "n" load 1 add store "n" load ret end # ${crypto.randomUUID()}` });
  const txs = new root.transaction.v1.TransactionService(addrs[2], grpc.credentials.createInsecure());
  const receipts = [];
  for (const nonce of [1, 2]) {
    // Its content hash computed here, by transaction.proto's rule.
    const tx = { id: `net-tx-${process.pid}-${nonce}`, sender: 'a', receiver: 'b', amount: 1, nonce,
      contract_call: { address: deployed.address, function: 'bump' } };
    tx.content_hash = crypto.createHash('sha256')
      .update([tx.id, tx.sender, tx.receiver, '1', String(nonce), ''].join('\n')).digest('hex');
    receipts.push((await call(txs, 'SubmitTransaction', tx)).contract);
  }
  check(receipts.every((r) => r.code === 0) && receipts[1].result.result.int_value === 2,
    'a contract deployed through n2, called by two transactions through n3: receipts OK, 1 then '
    + `${receipts[1].result.result.int_value}`);
  let states = [];
  for (let attempt = 0; attempt < 20; attempt += 1) {
    states = await Promise.all(contracts.map((c) =>
      call(c, 'GetState', { address: deployed.address, key: 'n' })));
    if (states.every((s) => s.entries[0].version === 2)) break;
    await sleep(100);  // a follower applies once it hears the entry is committed
  }
  check(states.every((s) => s.entries[0].value.int_value === 2 && s.entries[0].version === 2),
    `every node reads the contract's state alike: ${states.map((s) =>
      `${s.entries[0].value.int_value}@${s.entries[0].version}`).join(', ')}`);
  txs.close();
  contracts.forEach((c) => c.close());
  streams.forEach((s) => s.cancel());
}

main().then(() => {
  nodes.forEach((n) => n.close());
  admin.close();
  process.exit(failed ? 1 : 0);
}, (error) => {
  console.log(`FAIL ${error.stack}`);
  process.exit(1);
});

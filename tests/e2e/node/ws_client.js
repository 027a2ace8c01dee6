// A WebSocket client that is not ours (npm's ws) against the REST gateway's
// WebSocket channel (/v1/ws): subscriptions with and without a filter, submits
// matched to their replies by id, an approval created over REST seen as an
// event, unsubscribing, errors that keep the connection open, the close codes
// for bad input (not JSON 1007, binary 1003, too big 1009), a path with no
// WebSocket (404), keep-alive pings (and a client that stops answering them
// is closed), and a client that stops reading cut off with 1008 while a
// canary on another connection gets every event. Prints PASS/FAIL lines;
// exits non-zero on any failure.
//   node ws_client.js HTTP_BASE QUEUE_BOUND PING_HTTP_BASE PING_IDLE_TIMEOUT_MS
// (the second server's idle timeout is short, for the pings; the first's is
// long enough for a reader that stops to be cut off for its queue first)
const crypto = require('crypto');
const http = require('http');
const WebSocket = require('ws');

const [base, queueBound, pingBase, idleMs] =
  [process.argv[2], Number(process.argv[3]), process.argv[4], Number(process.argv[5])];
const wsUrl = base.replace(/^http/, 'ws') + '/v1/ws';
const pingUrl = pingBase.replace(/^http/, 'ws') + '/v1/ws';
let failed = false;
function check(what, ok, detail) {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}${detail === undefined ? '' : `: ${detail}`}`);
  if (!ok) failed = true;
}

function tx(id, sender, memo = 'ws') {
  const t = { id, sender, receiver: 'bob', amount: '7', nonce: '1', memo };
  t.contentHash = crypto.createHash('sha256')
    .update([t.id, t.sender, t.receiver, t.amount, t.nonce, t.memo].join('\n')).digest('hex');
  return t;
}

// A connection whose messages are kept, with waits for what should come.
function open(url = wsUrl, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.received = [];
    ws.waiters = [];
    ws.on('message', (data, isBinary) => {
      const message = JSON.parse(data.toString());
      ws.received.push(message);
      ws.waiters = ws.waiters.filter((w) => !w());
    });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}
function until(ws, predicate, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const done = () => {
      const found = ws.received.filter(predicate);
      if (found.length === 0) return false;
      resolve(found);
      return true;
    };
    if (done()) return;
    ws.waiters.push(done);
    setTimeout(() => reject(new Error('timed out waiting')), timeoutMs);
  });
}
function count(ws, predicate, n, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const started = Date.now();
    const poll = () => {
      const found = ws.received.filter(predicate);
      if (found.length >= n || Date.now() - started > timeoutMs) return resolve(found);
      setTimeout(poll, 20);
    };
    poll();
  });
}
function closed(ws, timeoutMs = 10000) {
  return new Promise((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    setTimeout(() => resolve({ code: 'none', reason: 'not closed in time' }), timeoutMs);
  });
}
function post(path, body) {
  return new Promise((resolve, reject) => {
    const url = new URL(base + path);
    const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST',
      headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function sendInFragments(c) {
  const fragment = 'p'.repeat(65536);
  for (let i = 0; i < 20 && c.readyState === WebSocket.OPEN; i++) {
    await new Promise((r) => c.send(fragment, { fin: i === 19 }, () => setTimeout(r, 10)));
  }
}

async function main() {
  const run = crypto.randomBytes(4).toString('hex');
  const ws = await open();
  ws.send(JSON.stringify({ op: 'subscribe', id: 'all', topic: 'transactions' }));
  ws.send(JSON.stringify({ op: 'subscribe', id: 'alice', topic: 'transactions', account: `alice-${run}` }));
  ws.send(JSON.stringify({ op: 'subscribe', id: 'ap', topic: 'approvals', approval_id: `ap-${run}` }));
  const confirmed = await count(ws, (m) => m.type === 'subscribed', 3);
  check('three subscriptions confirmed', confirmed.length === 3, confirmed.map((m) => m.id).join(','));

  for (let i = 0; i < 50; i++) {
    ws.send(JSON.stringify({ op: 'submit', id: `c${i}`, transaction: tx(`ws-${run}-${i}`, i % 2 ? `carol-${run}` : `alice-${run}`) }));
  }
  ws.send(JSON.stringify({ op: 'submit', id: 'dup', transaction: tx(`ws-${run}-0`, `alice-${run}`) }));
  const replies = await count(ws, (m) => m.type === 'reply', 51);
  const ok = replies.filter((m) => m.code === 'OK' && m.response.id === `ws-${run}-${m.id.slice(1)}`);
  check('every submit answered OK, matched by its id', ok.length === 50, `${ok.length} of 50`);
  const dup = replies.find((m) => m.id === 'dup');
  check('a duplicate id is ALREADY_EXISTS', dup && dup.code === 'ALREADY_EXISTS', dup && dup.message);
  const mine = (m) => m.type === 'event' && m.event.transaction.id.startsWith(`ws-${run}-`);
  const all = await count(ws, (m) => m.id === 'all' && mine(m), 50);
  check('the unfiltered subscription saw each committed transaction', all.length === 50, all.length);
  check('events carry their send time',
    all.every((m) => Number(m.event.sentAtUnixNanos) > Date.now() * 1e6 - 60e9));
  const alice = await count(ws, (m) => m.id === 'alice' && m.type === 'event', 25);
  check('the filtered subscription saw only its account\'s', alice.length === 25 &&
    alice.every((m) => m.event.transaction.sender === `alice-${run}`), alice.length);

  const created = await post('/v1/approvals', { approvalId: `ap-${run}`, type: 'APPROVAL_TYPE_PARAMETER_CHANGE',
    totalValidators: 3, requiredApprovals: 2, ttlMs: 60000 });
  const approvals = await until(ws, (m) => m.id === 'ap' && m.type === 'event').catch(() => []);
  check('an approval created over REST is an event of the approvals topic',
    created === 201 && approvals.length === 1 && approvals[0].event.type === 'APPROVAL_EVENT_TYPE_CREATED',
    `${created} ${approvals.length && approvals[0].event.type}`);

  ws.send(JSON.stringify({ op: 'dance', id: 'x1' }));
  ws.send(JSON.stringify({ op: 'subscribe', id: 'all', topic: 'transactions' }));
  ws.send(JSON.stringify({ op: 'subscribe', id: 'y', topic: 'weather' }));
  ws.send(JSON.stringify({ op: 'submit', id: 'bad', transaction: { id: 5, colour: 'red' } }));
  ws.send('[1, 2]');
  ws.send(JSON.stringify({ op: 'subscribe', id: 'n', topic: 1 }));  // a number where a string goes
  const errors = await count(ws, (m) => m.type === 'error' || (m.type === 'reply' && m.id === 'bad'), 6);
  const byId = Object.fromEntries(errors.map((m) => [JSON.stringify(m.id), m.code]));
  check('requests that cannot be served are answered, the connection kept',
    byId['"x1"'] === 'INVALID_ARGUMENT' && byId['"all"'] === 'ALREADY_EXISTS' && byId['"y"'] === 'INVALID_ARGUMENT' &&
    byId['"bad"'] === 'INVALID_ARGUMENT' && byId.null === 'INVALID_ARGUMENT' && byId['"n"'] === 'INVALID_ARGUMENT',
    JSON.stringify(byId));

  ws.send(JSON.stringify({ op: 'unsubscribe', id: 'all' }));
  await until(ws, (m) => m.type === 'unsubscribed' && m.id === 'all');
  ws.send(JSON.stringify({ op: 'submit', id: 'after', transaction: tx(`ws-${run}-after`, `alice-${run}`) }));
  await until(ws, (m) => m.type === 'reply' && m.id === 'after');
  await count(ws, (m) => m.id === 'alice' && m.type === 'event', 26);
  const late = ws.received.filter((m) => m.id === 'all' && m.type === 'event' && m.event.transaction.id === `ws-${run}-after`);
  check('after unsubscribing, nothing more comes for it', late.length === 0);
  ws.close(1000);

  for (const [what, send, code] of [
    ['a message that is not JSON', (c) => c.send('this is not json'), 1007],
    ['a binary message', (c) => c.send(Buffer.from([1, 2, 3])), 1003],
    // In 64 KiB fragments, each sent whole before the next: the server's
    // close comes between them, not while one is half written (which would
    // end in a reset, not a close).
    ['a message over the bound', sendInFragments, 1009],
  ]) {
    const c = await open();
    const done = closed(c);
    await send(c);
    const how = await done;
    check(`${what} closes the connection with ${code}`, how.code === code, `${how.code} ${how.reason}`);
  }
  const refused = await open(base.replace(/^http/, 'ws') + '/v1/elsewhere').then(() => 'opened', (e) => e.message);
  check('a path with no WebSocket is 404', refused === 'HTTP 404', refused);

  const pinged = await open(pingUrl);
  let pings = 0;
  pinged.on('ping', () => pings++);
  await new Promise((r) => setTimeout(r, idleMs * 2));
  check('an idle connection is pinged and kept while it answers', pings >= 1 && pinged.readyState === WebSocket.OPEN, `${pings} pings`);
  pinged.close(1000);
  const silent = await open(pingUrl, { autoPong: false });
  const silentClosed = await closed(silent, idleMs * 4);
  check('a connection that answers no ping is closed', silentClosed.code !== 'none', silentClosed.code);

  // A reader that stops: its socket is paused while more events come than
  // the bound and the sockets' buffers hold (events of 16 KiB each, 24 MiB).
  const memo = 'm'.repeat(16384);
  const canary = await open();
  canary.send(JSON.stringify({ op: 'subscribe', id: 'c', topic: 'transactions', account: `slow-${run}` }));
  const slow = await open();
  slow.send(JSON.stringify({ op: 'subscribe', id: 's', topic: 'transactions', account: `slow-${run}` }));
  await until(canary, (m) => m.type === 'subscribed');
  await until(slow, (m) => m.type === 'subscribed');
  slow._socket.pause();
  const slowClosed = closed(slow, 60000);
  const submitter = await open();
  const total = Math.max(queueBound * 3, 1500);
  // In rounds of 16, each after the last is answered and seen by the canary,
  // which so never has more than 16 waiting.
  for (let i = 0; i < total; i += 16) {
    for (let k = i; k < Math.min(i + 16, total); k++) {
      submitter.send(JSON.stringify({ op: 'submit', id: k, transaction: tx(`slow-${run}-${k}`, `slow-${run}`, memo) }));
    }
    await count(canary, (m) => m.type === 'event', Math.min(i + 16, total), 20000);
  }
  const canaryEvents = await count(canary, (m) => m.type === 'event', total, 60000);
  check('the canary received every event', canaryEvents.length === total, `${canaryEvents.length} of ${total}`);
  slow._socket.resume();
  const cut = await slowClosed;
  const seen = slow.received.filter((m) => m.type === 'event').length;
  check('the reader that stopped was cut off with 1008, missing events', cut.code === 1008 && seen < total,
    `${cut.code} "${cut.reason}", ${seen} of ${total} events`);
  for (const c of [canary, submitter]) c.close(1000);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL ${e.stack}`);
  process.exit(1);
});
setTimeout(() => {
  console.log('FAIL the client did not finish in 100 s');
  process.exit(1);
}, 100000).unref();

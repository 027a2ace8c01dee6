// An HTTP/1.1 server that is not ours: Node's own http module, for the
// loadgen's HTTP transport. It prints "listening on 127.0.0.1:PORT" and
// serves, on keep-alive connections:
//   POST /v1/transactions  the body parsed as JSON and its contentHash (or
//                          content_hash) checked against SHA-256 of id,
//                          sender, receiver, amount, nonce and memo joined
//                          with "\n": 201 when it holds, 422 when not, 400
//                          for a body that is not JSON or not application/json
//   GET /v1/status/CODE    answers CODE
//   GET /slow              answers 200 after 300 ms
//   GET /continue          answers 100 Continue, then 200
//   GET /stats             (on a connection of its own) counts so far, as
//                          JSON: requests and answers by "METHOD PATH-prefix"
//                          and status, the bytes every other connection read
//                          and wrote (Node's socket counts), and the x-run
//                          header values seen
// It exits on SIGTERM, or by itself after 120 s.
//   node http_peer.js
const crypto = require('crypto');
const http = require('http');

const counts = {};
const statuses = {};
const runs = new Set();
const sockets = new Set();
let closedRead = 0;
let closedWritten = 0;

function count(table, key) {
  table[key] = (table[key] || 0) + 1;
}

function answer(res, route, status, body) {
  count(statuses, `${route} ${status}`);
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function submit(req, res, body) {
  const route = 'POST /v1/transactions';
  if (!(req.headers['content-type'] || '').startsWith('application/json')) {
    return answer(res, route, 400, { error: 'not application/json' });
  }
  let tx;
  try {
    tx = JSON.parse(body);
  } catch (e) {
    return answer(res, route, 400, { error: `not JSON: ${e.message}` });
  }
  const fields = [tx.id, tx.sender, tx.receiver, String(tx.amount), String(tx.nonce), tx.memo || ''];
  const hash = crypto.createHash('sha256').update(fields.join('\n')).digest('hex');
  const given = tx.contentHash || tx.content_hash;
  if (given !== hash) return answer(res, route, 422, { error: `hash ${given} is not ${hash}` });
  return answer(res, route, 201, { id: tx.id, status: 'TRANSACTION_STATUS_ACCEPTED' });
}

const server = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/stats') {
      let read = closedRead;
      let written = closedWritten;
      for (const socket of sockets) {
        if (socket === req.socket) continue;
        read += socket.bytesRead;
        written += socket.bytesWritten;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(JSON.stringify({ counts, statuses, read, written, runs: [...runs] }));
      return;
    }
    if (req.headers['x-run']) runs.add(req.headers['x-run']);
    if (req.method === 'POST' && req.url === '/v1/transactions') {
      count(counts, 'POST /v1/transactions');
      return submit(req, res, body);
    }
    const status = /^\/v1\/status\/(\d{3})$/.exec(req.url);
    if (req.method === 'GET' && status) {
      count(counts, 'GET /v1/status');
      return answer(res, 'GET /v1/status', Number(status[1]), { status: Number(status[1]) });
    }
    if (req.method === 'GET' && req.url === '/continue') {
      count(counts, 'GET /continue');
      res.writeContinue();
      return answer(res, 'GET /continue', 200, { after: 'continue' });
    }
    if (req.method === 'GET' && req.url === '/slow') {
      count(counts, 'GET /slow');
      setTimeout(() => {
        if (!res.destroyed) answer(res, 'GET /slow', 200, {});
      }, 300);
      return;
    }
    count(counts, `${req.method} other`);
    return answer(res, 'other', 404, { error: `no route ${req.method} ${req.url}` });
  });
});
server.on('connection', (socket) => {
  sockets.add(socket);
  socket.on('close', () => {
    sockets.delete(socket);
    if (!socket.statsConnection) {
      closedRead += socket.bytesRead;
      closedWritten += socket.bytesWritten;
    }
  });
});
server.on('request', (req) => {
  if (req.url === '/stats') req.socket.statsConnection = true;
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
setTimeout(() => process.exit(0), 120000).unref();

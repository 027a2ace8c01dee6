// A WebSocket server built on npm's ws, for the loadgen's WebSocket transport
// (tests/e2e/loadgen_websocket_test.sh). Paths:
//   /bidi  answers each JSON message {"id": ID} with {"id": ID, "code": CODE}:
//          "OK", or "ALREADY_EXISTS" for a message with "dup": true. Every
//          other message is held and answered after the next one, so replies
//          come out of order and only their ids can match them.
//   /push  after the first message (a subscription), sends EVENTS events,
//          each stamped with its send time (Unix ns, as a string), then
//          closes with 1008 and a reason.
//   /plain answers 200 without upgrading (a path that is no WebSocket).
//   any other path: the upgrade is refused with 404.
// It counts what it received, and the bytes each upgrading connection's
// socket read and wrote (by path, once it closed), and prints the counts as
// JSON on SIGTERM or at GET /stats.   node ws_peer.js EVENTS
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const events = Number(process.argv[2] || 500);
const stats = {
  upgrades: 0,
  upgrades_with_header: 0,
  bidi_messages: 0,
  bidi_bytes: 0,
  bidi_not_json: 0,
  bidi_closes: {},
  push_subscriptions: 0,
  push_events: 0,
  refused: 0,
  plain: 0,
  sockets_closed: 0,
  socket_bytes: {},  // path -> {read, written}
};

const nowNanos = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n;

const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ noServer: true });

server.on('upgrade', (req, socket, head) => {
  socket.on('close', () => {
    const bytes = (stats.socket_bytes[req.url] = stats.socket_bytes[req.url] || { read: 0, written: 0 });
    bytes.read += socket.bytesRead;
    bytes.written += socket.bytesWritten;
    ++stats.sockets_closed;
  });
  if (req.url === '/plain') {
    ++stats.plain;
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n');
    return;
  }
  if (req.url !== '/bidi' && req.url !== '/push') {
    ++stats.refused;
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 13\r\nconnection: close\r\n\r\nno such path\n');
    return;
  }
  ++stats.upgrades;
  if (req.headers['x-run'] === 'ws-e2e') ++stats.upgrades_with_header;
  wss.handleUpgrade(req, socket, head, (ws) => (req.url === '/bidi' ? bidi(ws) : push(ws)));
});

function bidi(ws) {
  let held = null;
  ws.on('message', (data, isBinary) => {
    ++stats.bidi_messages;
    stats.bidi_bytes += data.length;
    let message;
    try {
      message = JSON.parse(data.toString());
    } catch (e) {
      ++stats.bidi_not_json;
      return;
    }
    const reply = JSON.stringify({ id: message.id, code: message.dup ? 'ALREADY_EXISTS' : 'OK' });
    if (held === null) {
      held = reply;
      return;
    }
    ws.send(reply);
    ws.send(held);
    held = null;
  });
  ws.on('close', (code) => {
    stats.bidi_closes[code] = (stats.bidi_closes[code] || 0) + 1;
  });
}

function push(ws) {
  ws.once('message', () => {
    ++stats.push_subscriptions;
    let sent = 0;
    const tick = () => {
      for (let i = 0; i < 50 && sent < events; ++i, ++sent) {
        ws.send(JSON.stringify({ id: 's', event: { n: sent, sentAtUnixNanos: nowNanos().toString() } }));
        ++stats.push_events;
      }
      if (sent < events) setTimeout(tick, 5);
      else ws.close(1008, 'you read too slowly');
    };
    tick();
  });
}

server.listen(0, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  console.log(JSON.stringify(stats));
  process.exit(0);
});

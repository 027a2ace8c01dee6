// An HTTPS and secure WebSocket server that is not ours (Node's tls and https
// modules, npm's ws), for the loadgen's HTTP and WebSocket transports over
// TLS (tests/e2e/tls_test.sh). On one TLS port:
//   POST /v1/submit  answers 201 with {"id": ID} for a JSON body {"id": ID};
//                    with ?close, and "connection: close" (a new connection each)
//   /bidi            upgrades to a WebSocket that answers each JSON message
//                    {"id": ID} with {"id": ID, "code": "OK"}
// Every TLS connection's raw socket (TCP bytes: records, handshakes and all)
// is counted once it closes, if it carried a request or an upgrade (the
// loadgen's connection probe carries neither), with what it negotiated: TLS
// version, ALPN, SNI, a resumed session, the client certificate's subject;
// "open" says how many such connections have not closed yet.
// Prints "listening on 127.0.0.1:PORT" and "stats on 127.0.0.1:PORT" (plain
// HTTP: GET / gives the counts as JSON).
//   node tls_peer.js CERT KEY [CLIENT_CA]   (CLIENT_CA: client certificates required)
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');
const { WebSocketServer } = require('ws');

const [cert, key, clientCa] = process.argv.slice(2);
const stats = {
  requests: 0,
  bad_requests: 0,
  upgrades: 0,
  messages: 0,
  connections: 0,  // that carried a request or an upgrade, and closed
  open: 0,  // that carried a request or an upgrade, not yet closed (and counted)
  read: 0,
  written: 0,
  versions: {},
  alpn: {},
  servernames: {},
  resumed: 0,
  client_subjects: {},
};
const count = (table, key) => (table[key] = (table[key] || 0) + 1);
// Raw sockets by their peer's port, which their TLS sockets share.
const rawByPort = new Map();
const use = (tlsSocket) => {
  const raw = rawByPort.get(tlsSocket.remotePort);
  if (!raw || raw.negotiated) return;
  raw.negotiated = tlsSocket.negotiated;
  ++stats.open;
};

const options = { cert: fs.readFileSync(cert), key: fs.readFileSync(key), ALPNProtocols: ['http/1.1'] };
if (clientCa) Object.assign(options, { ca: fs.readFileSync(clientCa), requestCert: true, rejectUnauthorized: true });
const server = https.createServer(options, (req, res) => {
  use(req.socket);
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let id;
    try {
      id = JSON.parse(Buffer.concat(chunks).toString()).id;
    } catch (e) {
      id = undefined;
    }
    if (req.method !== 'POST' || !['/v1/submit', '/v1/submit?close'].includes(req.url) || id === undefined) {
      ++stats.bad_requests;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"expected POST /v1/submit with {\\"id\\": ...}"}');
      return;
    }
    ++stats.requests;
    if (req.url.endsWith('?close')) res.setHeader('connection', 'close');
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id }));
  });
});
server.keepAliveTimeout = 60000;

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  use(socket);
  if (req.url !== '/bidi') {
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    return;
  }
  ++stats.upgrades;
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data) => {
      ++stats.messages;
      let id;
      try {
        id = JSON.parse(data.toString()).id;
      } catch (e) {
        ws.close(1007, 'not JSON');
        return;
      }
      ws.send(JSON.stringify({ id, code: 'OK' }));
    });
  });
});

server.on('secureConnection', (tls) => {
  tls.negotiated = {
    version: tls.getProtocol(),
    alpn: String(tls.alpnProtocol),
    servername: String(tls.servername),
    resumed: tls.isSessionReused(),
    subject: (tls.getPeerCertificate() || {}).subject,
  };
});

// The raw TCP socket is accepted here and handed to the HTTPS server, so
// its byte counts are the wire's, not the decrypted stream's.
const raw = net.createServer((socket) => {
  const port = socket.remotePort;
  rawByPort.set(port, socket);
  socket.setNoDelay(true);
  // Counted once the raw socket has closed, all at once: stats never show a
  // connection half counted.
  socket.once('close', () => {
    rawByPort.delete(port);
    const negotiated = socket.negotiated;
    if (!negotiated) return;
    --stats.open;
    ++stats.connections;
    stats.read += socket.bytesRead;
    stats.written += socket.bytesWritten;
    count(stats.versions, negotiated.version);
    count(stats.alpn, negotiated.alpn);
    count(stats.servernames, negotiated.servername);
    if (negotiated.resumed) ++stats.resumed;
    if (negotiated.subject) count(stats.client_subjects, negotiated.subject.CN);
  });
  server.emit('connection', socket);
});
raw.listen(0, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${raw.address().port}`);
  const statsServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
  });
  statsServer.listen(0, '127.0.0.1', () => console.log(`stats on 127.0.0.1:${statsServer.address().port}`));
});
process.on('SIGTERM', () => process.exit(0));
setTimeout(() => process.exit(0), 120000).unref();

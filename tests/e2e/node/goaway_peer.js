// A server that speaks gRPC's framing over Node's own HTTP/2 (its http2
// module, not gRPC's code), for the nghttp2 client's connection handling: it
// answers every unary call OK with an empty message, and on each
// connection's CALLS-th stream says GOAWAY with that stream as the last it
// takes, so the client's streams opened after it are refused (REFUSED_STREAM)
// and must be sent again on a new connection. Prints "listening on
// 127.0.0.1:PORT"; on SIGTERM writes {"answered", "connections", "refused"}
// as JSON to OUT and exits. Exits by itself after 120 s.
//   node goaway_peer.js CALLS OUT
const fs = require('fs');
const http2 = require('http2');

const [calls, out] = [Number(process.argv[2]), process.argv[3]];
const counts = { answered: 0, connections: 0, refused: 0 };
const server = http2.createServer();
server.on('session', (session) => {
  counts.connections += 1;
  session.taken = 0;
  session.last = Infinity;  // the last stream it takes, once it said GOAWAY
});
server.on('stream', (stream) => {
  const session = stream.session;
  // Streams past the GOAWAY's last (sent before the client saw it) are refused.
  stream.on('error', () => {});
  if (stream.id > session.last) {
    counts.refused += 1;
    return;
  }
  session.taken += 1;
  if (session.taken === calls) {
    session.last = stream.id;
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
  }
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.alloc(5));
    counts.answered += 1;
  });
});
server.listen(0, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  fs.writeFileSync(out, JSON.stringify(counts));
  process.exit(0);
});
setTimeout(() => process.exit(1), 120000).unref();

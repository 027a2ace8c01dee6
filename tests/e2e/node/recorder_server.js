// A gRPC server that is not C++: @grpc/grpc-js, with messages decoded by
// protobufjs through @grpc/proto-loader, as a Node service decodes them. It
// serves aurigraph.test.v1.Recorder/Record (tests/proto) on a free loopback
// port, prints "listening on 127.0.0.1:PORT", and appends each request it
// receives to OUT as a JSON line (int64s as strings, enums by name, bytes in
// base64, defaults left out). It exits on SIGTERM, or by itself after 120 s.
//   node recorder_server.js PROTO_DIR OUT
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, out] = process.argv.slice(2);
const definition = loader.loadSync('aurigraph/test/v1/everything.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: true,
});
const { Recorder } = grpc.loadPackageDefinition(definition).aurigraph.test.v1;

const server = new grpc.Server();
server.addService(Recorder.service, {
  Record(call, callback) {
    fs.appendFileSync(out, JSON.stringify(call.request) + '\n');
    callback(null, {});
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(error.message);
    process.exit(1);
  }
  console.log(`listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => process.exit(0));
setTimeout(() => process.exit(0), 120_000);

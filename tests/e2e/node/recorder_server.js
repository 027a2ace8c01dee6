// A gRPC server that is not C++: @grpc/grpc-js, with messages decoded by
// protobufjs through @grpc/proto-loader, as a Node service decodes them. It
// serves aurigraph.test.v1.Recorder (tests/proto) on a free loopback port,
// prints "listening on 127.0.0.1:PORT", and appends each request it receives
// (each message of a RecordStream, with "stream": its x-stream header) to OUT
// as a JSON line (int64s as strings, enums by name, bytes in base64, defaults
// left out; a Record's x- headers as "headers").
// It describes itself through server reflection (@grpc/reflection, which serves
// grpc.reflection.v1 and v1alpha); with REFLECTION "missing-import" the
// reflection's file imports one it does not give, as an incomplete answer
// would. It exits on SIGTERM, or by itself after 120 s.
//   node recorder_server.js PROTO_DIR OUT [REFLECTION]
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const { ReflectionService } = require('@grpc/reflection');
const { FileDescriptorProto } = require('protobufjs/ext/descriptor');

const [protoDir, out, reflection = 'full'] = process.argv.slice(2);
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

// The service's file without Stamp, importing a file that declares it, which
// the reflection does not have.
function withMissingImport(definition) {
  const file = FileDescriptorProto.decode(definition['aurigraph.test.v1.Everything'].fileDescriptorProtos[0]);
  file.messageType = file.messageType.filter((message) => message.name !== 'Stamp');
  file.dependency = ['aurigraph/test/v1/stamp.proto'];
  const everything = file.messageType.find((message) => message.name === 'Everything');
  everything.field.find((field) => field.name === 'stamp').typeName = '.aurigraph.test.v1.Stamp';
  return { 'aurigraph.test.v1.Recorder': { fileDescriptorProtos: [FileDescriptorProto.encode(file).finish()] } };
}

// The request's x- headers, as "headers" when there are any.
function headersOf(call) {
  const headers = Object.fromEntries(
    Object.entries(call.metadata.getMap()).filter(([name]) => name.startsWith('x-')));
  return Object.keys(headers).length ? { headers } : {};
}

const server = new grpc.Server();
server.addService(Recorder.service, {
  Record(call, callback) {
    fs.appendFileSync(out, JSON.stringify({ ...call.request, ...headersOf(call) }) + '\n');
    callback(null, {});
  },
  RecordStream(call, callback) {
    const stream = Number(call.metadata.get('x-stream')[0] ?? -1);
    call.on('data', (request) => fs.appendFileSync(out, JSON.stringify({ stream, ...request }) + '\n'));
    call.on('end', () => callback(null, {}));
  },
});
new ReflectionService(reflection === 'missing-import' ? withMissingImport(definition) : definition)
  .addToServer(server);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    console.error(error.message);
    process.exit(1);
  }
  console.log(`listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => process.exit(0));
setTimeout(() => process.exit(0), 120_000);

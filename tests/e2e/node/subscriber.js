// A subscriber that is not C++: @grpc/grpc-js with protobufjs (through
// @grpc/proto-loader) reads aurigraph.transaction.v1.TransactionService/
// StreamTransactions from ADDR and appends each event it decoded to OUT as a
// JSON line (int64s as strings). It ends after COUNT events, or by itself
// after 15 s.
//   node subscriber.js PROTO_DIR ADDR COUNT OUT
const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');

const [protoDir, addr, count, out] = process.argv.slice(2);
const definition = loader.loadSync('aurigraph/transaction/v1/transaction.proto', {
  includeDirs: [protoDir],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
});
const { TransactionService } = grpc.loadPackageDefinition(definition).aurigraph.transaction.v1;
const client = new TransactionService(addr, grpc.credentials.createInsecure());
const call = client.StreamTransactions({});
let received = 0;
call.on('data', (event) => {
  fs.appendFileSync(out, JSON.stringify(event) + '\n');
  if (++received >= Number(count)) {
    call.cancel();
    process.exit(0);
  }
});
call.on('error', (error) => {
  if (error.code !== grpc.status.CANCELLED) {
    console.error(`stream ended: ${error.message}`);
    process.exit(1);
  }
});
setTimeout(() => {
  console.error(`timed out after ${received} of ${count} events`);
  process.exit(1);
}, 15000).unref();

#!/usr/bin/env bash
# The reference server's event stream as a client that is not C++ decodes it:
# each committed transaction is serialized once for all subscribers and every
# write appends its own sent_at_unix_nanos to those bytes (encoded_event.h).
# A Node @grpc/grpc-js subscriber (protobufjs) must read every transaction the
# loadgen submitted, each with its fields intact, sequences increasing, and a
# send stamp taken after its commit and within the test's own time.
#   node_stream_test.sh LOADGEN REFSERVER PROTO_DIR NODE_DIR
set -u
LOADGEN=$1
REFSERVER=$2
PROTO_DIR=$3
NODE_DIR=$4
source "$(dirname "$0")/common.sh"

need_node_modules "$NODE_DIR"
start_server ADDR server --metrics-listen 127.0.0.1:0
[[ -n $ADDR ]] || { echo "FAIL the reference server did not start"; exit 1; }
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")

BATCHES=30
PER_BATCH=10
started_ns=$(date +%s%N)
node "$NODE_DIR/subscriber.js" "$PROTO_DIR" "$ADDR" $((BATCHES * PER_BATCH)) "$WORK/events.jsonl" \
  >"$WORK/subscriber.out" 2>&1 &
SUBSCRIBER=$!
PIDS+=($SUBSCRIBER)
for _ in $(seq 100); do
  curl -s "$METRICS" | grep -q '^aurigraph_refserver_active_streams{direction="server"} 1' && break
  sleep 0.1
done

cat >"$WORK/submit.yaml" <<YAML
name: node-stream
target: $ADDR
duration: 30s
requests: $BATCHES
load:
  model: closed
  concurrency: 1
operations:
  - name: submit
    rpc: aurigraph.transaction.v1.TransactionService/BatchSubmitTransactions
    count_field: accepted
    request:
      batch_id: "b-\${seq}"
      transactions:
        \$repeat: $PER_BATCH
        \$item:
          id: "tx-\${seq}-\${item}"
          sender: "acct-\${item}"
          receiver: "acct-\${seq}"
          amount: "\${rand_int:1:1000000}"
          nonce: "\${item}"
          memo: "from node_stream_test"
          content_hash: "\${sha256:id,sender,receiver,amount,nonce,memo}"
YAML
if ! timeout 60 "$LOADGEN" run "$WORK/submit.yaml" --no-progress --watch-pid -1 --out "$WORK/run" \
  >"$WORK/run.out" 2>&1; then
  echo "FAIL the submitting run failed"
  cat "$WORK/run.out"
  exit 1
fi
if ! wait $SUBSCRIBER; then
  echo "FAIL the Node subscriber did not read every event"
  cat "$WORK/subscriber.out"
  exit 1
fi
ended_ns=$(date +%s%N)

python3 - "$WORK/events.jsonl" "$WORK/run/result.json" "$started_ns" "$ended_ns" "$PER_BATCH" <<'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
accepted = json.load(open(sys.argv[2]))["operations"][0]["items"]
started, ended, per_batch = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
problems = []
if len(events) != accepted:
    problems.append(f"{len(events)} events read, {accepted} transactions accepted")
ids = [e["transaction"]["id"] for e in events]
if len(set(ids)) != len(ids):
    problems.append("an event came twice")
sequences = [int(e["sequence"]) for e in events]
if sequences != sorted(sequences) or len(set(sequences)) != len(sequences):
    problems.append("sequences do not increase")
for e in events:
    tx = e["transaction"]
    seq, item = (int(x) for x in tx["id"].split("-")[1:])
    if (tx["sender"], tx["receiver"], tx["nonce"], tx["memo"]) != (
            f"acct-{item}", f"acct-{seq}", str(item), "from node_stream_test") or not (
            1 <= int(tx["amount"]) <= 1000000):
        problems.append(f"{tx['id']}: fields changed: {tx}")
    sent, committed = int(e["sent_at_unix_nanos"]), int(e["committed_at_unix_nanos"])
    if not started <= committed <= sent <= ended:
        problems.append(f"{tx['id']}: committed {committed}, sent {sent}, test {started}..{ended}")
for p in problems[:10]:
    print("FAIL", p)
if problems:
    sys.exit(1)
print(f"PASS a Node subscriber decoded all {len(events)} events, each stamped when it was sent")
PY

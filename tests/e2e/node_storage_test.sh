#!/usr/bin/env bash
# StorageService against a client that is not ours: a Node @grpc/grpc-js client
# puts, reads back, scans, deletes and versions keys (storage_client.js) on a
# server whose store is on disk; the server is restarted and what it held is
# read back; then the bundled storage-kv scenario, shortened, runs through the
# loadgen without a failed call, and the server's own counts cover what it measured.
#   node_storage_test.sh LOADGEN REFSERVER PROTO_DIR NODE_DIR SCENARIO_DIR
set -u
LOADGEN=$1
REFSERVER=$2
PROTO_DIR=$3
NODE_DIR=$4
SCENARIO_DIR=$5
source "$(dirname "$0")/common.sh"

need_node_modules "$NODE_DIR"
start_server ADDR server --metrics-listen 127.0.0.1:0 --data-dir "$WORK/data"
[[ -n $ADDR ]] || { echo "FAIL the reference server did not start"; exit 1; }
run_node_checks storage_client.js "$ADDR"

# Restarted on the same directory: the store comes back with its versions.
kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null
start_server ADDR server2 --metrics-listen 127.0.0.1:0 --data-dir "$WORK/data"
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server2.out")
keys=$(curl -s "$METRICS" | awk '/^aurigraph_refserver_storage_keys /{print $2}')
# 300 keys, node/versioned and node/ttl (expired, within its retention); not node/big.
if [[ $keys != 302 ]]; then
  echo "FAIL after a restart the store holds $keys keys, not 302"
  exit 1
fi
echo "PASS after a restart the store holds its 302 keys"

run_scenario_without_errors storage-kv.yaml "$ADDR" --set duration=4s --set warmup=2s --set load.rate=500
curl -s "$METRICS" >"$WORK/metrics.txt"
PYTHONPATH="$(dirname "$0")" python3 - "$WORK/run/result.json" "$WORK/metrics.txt" <<'PY'
import sys
from service_checks import failed_calls, metric, operations, verdict
ops = operations(sys.argv[1])
metrics = open(sys.argv[2]).read()
problems = failed_calls(ops)
puts = metric(metrics, r'aurigraph_refserver_storage_operations_total\{operation="put"\}') or -1
if puts < ops["put_hot"]["ok"] + ops["put_cold"]["ok"]:
    problems.append(f"the server counted {puts} puts, fewer than the loadgen measured")
gets = metric(metrics, r'aurigraph_refserver_storage_operations_total\{operation="get"\}') or -1
if gets < ops["get"]["ok"]:
    problems.append(f"the server counted {gets} gets, fewer than the loadgen measured")
verdict(problems, f"storage-kv: {sum(op['ok'] for op in ops.values())} calls measured, all OK; "
        f"the server counted {int(puts)} puts and {int(gets)} gets")
PY

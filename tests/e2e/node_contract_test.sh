#!/usr/bin/env bash
# ContractService against a client that is not ours: a Node @grpc/grpc-js
# client deploys the sample token contract, mints, transfers, reads and
# watches it, and checks the failures (contract_client.js) on a server whose
# store is on disk; the server is restarted and the contract and its balances
# are read back; then the bundled contract-token scenario, shortened, runs
# through the loadgen without a failed call, and the server's own counts
# cover what it measured.
#   node_contract_test.sh LOADGEN REFSERVER PROTO_DIR NODE_DIR SCENARIO_DIR
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
run_node_checks contract_client.js "$ADDR" "$SCENARIO_DIR"

kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null
start_server ADDR server2 --metrics-listen 127.0.0.1:0 --data-dir "$WORK/data"
run_node_checks contract_client.js "$ADDR" "$SCENARIO_DIR" check-persisted
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server2.out")

run_scenario_without_errors contract-token.yaml "$ADDR" --set duration=6s --set load.rate=500
curl -s "$METRICS" >"$WORK/metrics.txt"
PYTHONPATH="$(dirname "$0")" python3 - "$WORK/run/result.json" "$WORK/metrics.txt" <<'PY'
import sys
from service_checks import failed_calls, metric, operations, verdict
ops = operations(sys.argv[1])
metrics = open(sys.argv[2]).read()
problems = failed_calls(ops)
committed = metric(metrics, r'aurigraph_refserver_contract_calls_total\{outcome="committed"\}') or -1
calls = sum(ops[n]["ok"] for n in ("mint", "transfer", "balance"))
if committed < calls:
    problems.append(f"the server counted {committed} committed calls, fewer than the {calls} measured")
stream = ops["watch_changes"]["stream"]
if stream["messages_received"] < ops["mint"]["ok"]:
    problems.append(f"the change stream received {stream['messages_received']} changes, "
                    f"fewer than the {ops['mint']['ok']} mints measured")
if (metric(metrics, "aurigraph_refserver_contracts_stored") or 0) < 2:
    problems.append("the server holds fewer than the 2 contracts deployed")
verdict(problems, f"contract-token: {sum(op['ok'] for op in ops.values())} calls measured, all OK; "
        f"the server counted {int(committed)} committed calls; "
        f"the stream received {stream['messages_received']} changes")
PY

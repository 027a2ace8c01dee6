#!/usr/bin/env bash
# TraceabilityService against a client that is not ours: a Node @grpc/grpc-js
# client links and queries, and its own RFC 9162 verifier checks every
# inclusion proof (traceability_client.js); then the bundled traceability
# scenario, shortened, runs through the loadgen without a failed call, and the
# server's own count of links covers what the loadgen measured.
#   node_traceability_test.sh LOADGEN REFSERVER PROTO_DIR NODE_DIR SCENARIO_DIR
set -u
LOADGEN=$1
REFSERVER=$2
PROTO_DIR=$3
NODE_DIR=$4
SCENARIO_DIR=$5
source "$(dirname "$0")/common.sh"

need_node_modules "$NODE_DIR"
start_server ADDR server --metrics-listen 127.0.0.1:0
[[ -n $ADDR ]] || { echo "FAIL the reference server did not start"; exit 1; }
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")
run_node_checks traceability_client.js "$ADDR"

run_scenario_without_errors traceability.yaml "$ADDR" --set duration=4s --set warmup=1s --set load.rate=500
curl -s "$METRICS" >"$WORK/metrics.txt"
PYTHONPATH="$(dirname "$0")" python3 - "$WORK/run/result.json" "$WORK/metrics.txt" <<'PY'
import sys
from service_checks import failed_calls, metric, operations, verdict
ops = operations(sys.argv[1])
linked = metric(open(sys.argv[2]).read(), r"aurigraph_refserver_traceability_links_total") or -1
problems = failed_calls(ops)
# The Node client made 54 links; the warm-up's are not in the measured counts.
if linked < ops["link"]["ok"] + 54:
    problems.append(f"the server counted {linked} links, fewer than were made")
verdict(problems, f"traceability: {sum(op['ok'] for op in ops.values())} calls measured, all OK; "
        f"the server counted {int(linked)} links")
PY

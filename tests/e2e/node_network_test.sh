#!/usr/bin/env bash
# NetworkService on a real 3-node cluster, against a client that is not ours:
# a Node @grpc/grpc-js client reads the peer list, broadcasts and sends direct
# messages and watches them arrive on every node's event stream, partitions a
# node with ConsensusAdminService and heals it (network_client.js); then the
# bundled network-messages scenario, shortened, runs through the loadgen
# against n1 (its direct messages to n2) without a failed call, and the other
# nodes' own counts cover the broadcasts it measured. The client also deploys a
# contract through n2, calls it by transactions through n3 and reads the same
# state on every node (contracts replicated through consensus).
#   node_network_test.sh LOADGEN REFSERVER PROTO_DIR NODE_DIR SCENARIO_DIR
set -u
LOADGEN=$1
REFSERVER=$2
PROTO_DIR=$3
NODE_DIR=$4
SCENARIO_DIR=$5
source "$(dirname "$0")/common.sh"

need_node_modules "$NODE_DIR"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ADDRS=("127.0.0.1:$(free_port)" "127.0.0.1:$(free_port)" "127.0.0.1:$(free_port)")
PEERS="n1=${ADDRS[0]},n2=${ADDRS[1]},n3=${ADDRS[2]}"
for i in 1 2 3; do
  "$REFSERVER" --node-id n$i --peers "$PEERS" --admin --metrics-listen 127.0.0.1:0 \
    >"$WORK/n$i.out" 2>&1 &
  PIDS+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 50); do grep -q "^metrics on " "$WORK/n$i.out" && break; sleep 0.1; done
  grep -q "^metrics on " "$WORK/n$i.out" || { cat "$WORK/n$i.out"; echo "FAIL node n$i did not start"; exit 1; }
done
run_node_checks network_client.js "${ADDRS[@]}"

run_scenario_without_errors network-messages.yaml "${ADDRS[0]}" --set duration=5s --set load.rate=300 \
  --set operations.1.request.node_id=n2
N2_METRICS=$(awk '/^metrics on /{print $3}' "$WORK/n2.out")
N3_METRICS=$(awk '/^metrics on /{print $3}' "$WORK/n3.out")
curl -s "$N2_METRICS" >"$WORK/n2.txt"
curl -s "$N3_METRICS" >"$WORK/n3.txt"
PYTHONPATH="$(dirname "$0")" python3 - "$WORK/run/result.json" "$WORK/n2.txt" "$WORK/n3.txt" <<'PY'
import sys
from service_checks import failed_calls, metric, operations, verdict
ops = operations(sys.argv[1])
def received_from_n1(path):
    pattern = r'aurigraph_refserver_network_messages_received_total\{peer="n1"\}'
    return metric(open(path).read(), pattern) or -1
problems = failed_calls(ops)
broadcasts = ops["broadcast"]["ok"]
n2, n3 = received_from_n1(sys.argv[2]), received_from_n1(sys.argv[3])
if n3 < broadcasts:
    problems.append(f"n3 received {n3} messages from n1, fewer than the {broadcasts} broadcasts measured")
if n2 < broadcasts + ops["direct"]["ok"]:
    problems.append(f"n2 received {n2} messages from n1, fewer than the broadcasts and direct messages measured")
verdict(problems, f"network-messages on n1: {sum(op['ok'] for op in ops.values())} calls measured, "
        f"all OK; n2 received {int(n2)} messages from n1, n3 {int(n3)}")
PY

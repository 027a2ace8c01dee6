#!/usr/bin/env bash
# The REST gateway's WebSocket channel (/v1/ws) against a client no one here
# wrote (npm's ws, tests/e2e/node/ws_client.js): subscriptions, submits and
# their replies, errors and close codes for bad input, pings, and a reader
# that stops cut off while a canary is served. Then the server's own
# counters: the cut-off counted, and no connection left open.
#   websocket_test.sh REFSERVER NODE_DIR
set -u
REFSERVER=$1
NODE_DIR=$2
source "$(dirname "$0")/common.sh"
need_node_modules "$NODE_DIR" ws
QUEUE=64
start_server ADDR server --rest-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --stream-queue $QUEUE
REST=$(awk '/^rest on /{print $3}' "$WORK/server.out")
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")
start_server PING_ADDR ping --rest-listen 127.0.0.1:0 --ws-idle-timeout 1s
PING_REST=$(awk '/^rest on /{print $3}' "$WORK/ping.out")
[[ -n $REST && -n $METRICS && -n $PING_REST ]] || { cat "$WORK"/*.out; echo "FAIL the servers did not start"; exit 1; }
node "$NODE_DIR/ws_client.js" "$REST" $QUEUE "$PING_REST" 1000 || { echo "FAIL the ws client's checks"; exit 1; }
for _ in $(seq 50); do
  curl -sf "$METRICS" >"$WORK/metrics.txt"
  grep -q '^aurigraph_refserver_websocket_connections_open 0$' "$WORK/metrics.txt" && break
  sleep 0.1
done
python3 - "$WORK/metrics.txt" <<'PY' || exit 1
import re, sys
text = open(sys.argv[1]).read()
def metric(name):
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None
problems = []
for what, got, ok in [
    ("the reader that stopped, counted cut off", metric("aurigraph_refserver_websocket_cut_off_total"), lambda v: v == 1),
    ("no WebSocket connection left open", metric("aurigraph_refserver_websocket_connections_open"), lambda v: v == 0),
    ("connections upgraded", metric("aurigraph_refserver_websocket_connections_total"), lambda v: v is not None and v >= 7),
]:
    if got is None or not ok(got): problems.append(f"{what}: {got}")
    else: print(f"PASS {what}: {got:g}")
if problems: print("FAIL " + "; ".join(problems)); sys.exit(1)
PY
echo "PASS the WebSocket channel"

#!/usr/bin/env bash
# The nghttp2 client (channel.client: nghttp2) against a server that says
# GOAWAY every 10 streams on each connection (tests/e2e/node/goaway_peer.js,
# Node's own HTTP/2): the calls it refused are sent again on a new connection
# and every call ends OK, exactly once each as the server counts them. With
# 8 calls in flight, fewer than a connection takes, a call is refused at most
# once (gRPC's library also sends a refused call again only once).
#   nghttp2_goaway_test.sh LOADGEN PROTO_DIR NODE_DIR
set -u
LOADGEN=$1
PROTO_DIR=$2
NODE_DIR=$3
source "$(dirname "$0")/common.sh"

node "$NODE_DIR/goaway_peer.js" 10 "$WORK/counts.json" >"$WORK/peer.out" 2>&1 &
PEER=$!
PIDS+=("$PEER")
for _ in $(seq 100); do grep -q "^listening on " "$WORK/peer.out" && break; sleep 0.1; done
ADDR=$(awk '/^listening on /{print $3}' "$WORK/peer.out")
[[ -n $ADDR ]] || { echo "FAIL the Node peer did not start"; cat "$WORK/peer.out"; exit 1; }

timeout 60 "$LOADGEN" run --call aurigraph.approval.v1.ApprovalService/CheckHealth \
  --proto "$PROTO_DIR/aurigraph/approval/v1/approval.proto" --import-path "$PROTO_DIR" \
  --target "$ADDR" --set channel.client=nghttp2 --concurrency 8 --requests 500 \
  --no-progress --watch-pid -1 --out "$WORK/run" >"$WORK/run.out" 2>&1 ||
  { echo "FAIL the run"; cat "$WORK/run.out"; exit 1; }
kill -TERM "$PEER"
for _ in $(seq 50); do [[ -s $WORK/counts.json ]] && break; sleep 0.1; done

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
counts = json.load(open(f"{work}/counts.json"))
result = json.load(open(f"{work}/run/result.json"))
failed = []
def check(name, ok, detail):
    if not ok:
        failed.append(name)
        print(f"FAIL {name}: {detail}")
check("every call OK", result["total"]["status_codes"] == {"OK": 500}, result["total"]["status_codes"])
check("each call answered once", counts["answered"] == 500, counts)
# 10 streams a connection: 50 connections, and more for those the GOAWAYs crossed.
check("a new connection after each GOAWAY", counts["connections"] >= 50, counts)
check("some calls refused (sent after a GOAWAY)", counts["refused"] > 0, counts)
print(f"{counts['answered']} answered over {counts['connections']} connections, "
      f"{counts['refused']} streams refused and sent again")
print("FAIL" if failed else "PASS")
sys.exit(1 if failed else 0)
PY

#!/usr/bin/env bash
# The loadgen's WebSocket transport (operations with websocket:) against a
# server no one here wrote (npm's ws, tests/e2e/node/ws_peer.js) and against
# the reference server's /v1/ws. The peer answers out of order, so only ids
# match replies; it closes a subscription with 1008 and refuses a path with
# 404, and counts what it received: the loadgen's counts must be its counts.
# Against the reference server, every submit is answered and every committed
# transaction reaches both subscribers.
#   loadgen_websocket_test.sh LOADGEN REFSERVER NODE_DIR
set -u
LOADGEN=$1
REFSERVER=$2  # common.sh's start_server runs it
NODE_DIR=$3
source "$(dirname "$0")/common.sh"
need_node_modules "$NODE_DIR" ws
fail() { echo "FAIL $*"; exit 1; }

EVENTS=500
node "$NODE_DIR/ws_peer.js" $EVENTS >"$WORK/peer.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on " "$WORK/peer.out" && break; sleep 0.1; done
PEER=$(awk '/^listening on /{print $3}' "$WORK/peer.out")
[[ -n $PEER ]] || { cat "$WORK/peer.out"; fail "the Node peer did not start"; }

cat >"$WORK/peer.yaml" <<EOF
name: ws-peer
target: $PEER
duration: 3s
max_generator_lag: 60s  # counts are checked here, not timing: a loaded machine may lag
metadata:
  x-run: ws-e2e
operations:
  - name: bidi
    websocket: {path: /bidi}
    request:
      - {id: "m-\${seq}", memo: "quote \" and \\\\ and ✓"}
      - {id: "m-\${seq}", dup: true}
    stream: {streams: 2, send_rate: 100, match: {request: id, response: id}, status_field: code}
  - name: push
    websocket: {path: /push, kind: server_stream}
    request: {subscribe: all}
    stream: {streams: 1, timestamp_field: event.sentAtUnixNanos}
  - name: nowhere
    websocket: {path: /nowhere, kind: server_stream}
    request: {subscribe: all}
    stream: {streams: 1, reopen_backoff: 10s, reopen_backoff_max: 10s}
  - name: plain
    websocket: {path: /plain, kind: server_stream}
    request: {subscribe: all}
    stream: {streams: 1, reopen_backoff: 10s, reopen_backoff_max: 10s}
EOF
timeout 60 "$LOADGEN" run "$WORK/peer.yaml" --out "$WORK/peer-run" >"$WORK/peer-run.log" 2>&1 ||
  { tail -30 "$WORK/peer-run.log"; fail "the run against the Node peer did not end well"; }
# The peer adds a connection's bytes once it has closed.
for _ in $(seq 50); do
  curl -sf "http://$PEER/stats" >"$WORK/peer-stats.json" || fail "the peer's /stats"
  python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); sys.exit(s["sockets_closed"] != s["upgrades"] + s["refused"] + s["plain"])' \
    "$WORK/peer-stats.json" && break
  sleep 0.1
done
python3 - "$WORK/peer-run/result.json" "$WORK/peer-stats.json" $EVENTS <<'PY' || exit 1
import json, sys
result = json.load(open(sys.argv[1]))
peer = json.load(open(sys.argv[2]))
events = int(sys.argv[3])
ops = {o["name"]: o for o in result["operations"]}
bidi, push, nowhere, plain = ops["bidi"], ops["push"], ops["nowhere"], ops["plain"]
b = bidi["stream"]
p = push["stream"]
codes = b["message_codes"]
problems = []
def check(what, ok, detail):
    (print(f"PASS {what}: {detail}") if ok else problems.append(f"{what}: {detail}"))
check("every message the loadgen sent, the peer received", b["messages_sent"] == peer["bidi_messages"] > 0,
      f"{b['messages_sent']} sent, {peer['bidi_messages']} received")
check("every message valid JSON to the peer", peer["bidi_not_json"] == 0, f"{peer['bidi_not_json']} not JSON")
check("every reply (out of order) matched by its id", b["messages_received"] == b["messages_sent"] and b["unmatched_replies"] == 0,
      f"{b['messages_received']} received, {b['unmatched_replies']} unmatched")
check("replies' codes counted by name", codes.get("OK", 0) > 0 and codes.get("OK", 0) == codes.get("ALREADY_EXISTS", 0)
      and codes.get("OK", 0) + codes.get("ALREADY_EXISTS", 0) == b["measured_received"], str(codes))
check("each reply timed", bidi["latency_us"]["corrected"]["count"] == b["measured_received"],
      f"{bidi['latency_us']['corrected']['count']} of {b['measured_received']}")
check("bidi streams closed with 1000, seen as OK", bidi["status_codes"] == {"OK": 2} and peer["bidi_closes"] == {"1000": 2},
      f"{bidi['status_codes']}, peer {peer['bidi_closes']}")
check("headers sent with every upgrade", peer["upgrades_with_header"] == peer["upgrades"] > 0,
      f"{peer['upgrades_with_header']} of {peer['upgrades']}")
closes = push.get("error_messages", {}).get("PERMISSION_DENIED", {}).get("messages", [])
check("a 1008 close is PERMISSION_DENIED with its reason", push["status_codes"].get("PERMISSION_DENIED", 0) >= 1 and
      any(m["message"] == "WebSocket close 1008: you read too slowly" for m in closes), f"{push['status_codes']} {closes}")
# The last subscription is cancelled at the end, perhaps with events on the way.
check("events received as the peer sent them", peer["push_events"] - events <= p["messages_received"] <= peer["push_events"],
      f"{p['messages_received']} received, {peer['push_events']} sent")
check("each event timed by its send stamp", push["latency_us"]["corrected"]["count"] == p["measured_received"] > 0,
      f"{push['latency_us']['corrected']['count']} of {p['measured_received']}")
# Bytes: what the loadgen's sockets wrote is what the peer's read, and the
# reverse, the upgrade and every frame included; a subscription cancelled at
# the end may leave events unread.
for op, path, exact in ((bidi, "/bidi", True), (push, "/push", False), (nowhere, "/nowhere", True)):
    w, theirs = op.get("wire", {}), peer["socket_bytes"].get(path, {"read": 0, "written": 0})
    read_ok = w.get("response_bytes") == theirs["written"] if exact else 0 < w.get("response_bytes", 0) <= theirs["written"]
    check(f"{path}: bytes each way as the peer's sockets counted", w.get("request_bytes") == theirs["read"] > 0 and read_ok,
          f"loadgen wrote {w.get('request_bytes')} and read {w.get('response_bytes')}, peer read {theirs['read']} and wrote {theirs['written']}")
check("payloads: the messages' own bytes", b["messages_sent"] == bidi["wire"]["requests"] and
      bidi["wire"]["request_payload_bytes"] == peer["bidi_bytes"] and
      bidi["wire"]["responses"] == b["messages_received"] and bidi["wire"]["response_payload_bytes"] > 0,
      f"{bidi['wire']}")
check("upgrades counted by status", bidi["wire"]["by_status"] == {"101": 2} and nowhere["wire"]["by_status"] == {"404": 1},
      f"{bidi['wire']['by_status']}, {nowhere['wire']['by_status']}")
refused = nowhere.get("error_messages", {}).get("NOT_FOUND", {}).get("messages", [])
check("a refused upgrade is its HTTP status, then backed off", nowhere["status_codes"] == {"NOT_FOUND": 1} and
      any(m["message"].startswith("upgrade refused: HTTP 404 Not Found: no such path") for m in refused) and peer["refused"] == 1,
      f"{nowhere['status_codes']} {refused}, peer refused {peer['refused']}")
plain_errors = plain.get("error_messages", {}).get("UNKNOWN", {}).get("messages", [])
check("a 200 instead of an upgrade is an error, then backed off", plain["status_codes"] == {"UNKNOWN": 1} and
      plain["wire"]["by_status"] == {"200": 1} and peer["plain"] == 1 and
      any(m["message"].startswith("upgrade refused: HTTP 200 OK") for m in plain_errors),
      f"{plain['status_codes']} {plain_errors} {plain['wire']['by_status']}, peer answered {peer['plain']}")
if problems:
    print("FAIL " + "; ".join(problems)); sys.exit(1)
PY

# The reference server: submits over /v1/ws matched by id, and two subscribers.
start_server ADDR server --rest-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0
REST=$(awk '/^rest on /{print $3}' "$WORK/server.out")
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")
[[ -n $REST && -n $METRICS ]] || { cat "$WORK/server.out"; fail "the server did not start"; }
cat >"$WORK/server.yaml" <<EOF
name: ws-server
target: ${REST#http://}
duration: 3s
max_generator_lag: 60s
operations:
  - name: events
    websocket: {path: /v1/ws, kind: server_stream}
    request: {op: subscribe, id: "sub-\${stream}", topic: transactions}
    stream: {streams: 2, timestamp_field: event.sentAtUnixNanos}
  - name: submit
    websocket: {path: /v1/ws}
    request:
      op: submit
      id: "c-\${seq}"
      transaction:
        id: "tx-\${seq}-\${uuid}"
        sender: "acct-\${rand_int:1:1000}"
        receiver: bob
        amount: "\${rand_int:1:1000000000}"
        nonce: "\${seq}"
        memo: "\${rand_string:16}"
        timestampUnixNanos: "\${now_ns}"
        contentHash: "\${sha256:id,sender,receiver,amount,nonce,memo}"
    stream: {streams: 2, delay: 500ms, send_rate: 100, match: {request: id, response: id}, status_field: code}
EOF
timeout 60 "$LOADGEN" run "$WORK/server.yaml" --out "$WORK/server-run" >"$WORK/server-run.log" 2>&1 ||
  { tail -30 "$WORK/server-run.log"; fail "the run against the reference server did not end well"; }
curl -sf "$METRICS" >"$WORK/metrics.txt" || fail "the server's metrics"
python3 - "$WORK/server-run/result.json" "$WORK/metrics.txt" <<'PY' || exit 1
import json, re, sys
result = json.load(open(sys.argv[1]))
metrics = open(sys.argv[2]).read()
ops = {o["name"]: o for o in result["operations"]}
s, e = ops["submit"]["stream"], ops["events"]["stream"]
m = re.search(r'^aurigraph_refserver_websocket_connections_total (\S+)$', metrics, re.M)
upgrades = float(m.group(1)) if m else None
problems = []
def check(what, ok, detail):
    (print(f"PASS {what}: {detail}") if ok else problems.append(f"{what}: {detail}"))
check("every submit answered OK", s["messages_sent"] == s["messages_received"] > 0 and s["unmatched_replies"] == 0
      and s["message_codes"] == {"OK": s["measured_received"]},
      f"{s['messages_sent']} sent, {s['messages_received']} answered, {s['message_codes']}")
# Each subscriber: its confirmation, then one event per transaction committed
# while it was open (the subscriptions end with the run, the last events perhaps on the way).
expected = 2 * (s["messages_sent"] + 1)
check("both subscribers received the committed transactions", 0.9 * expected <= e["messages_received"] <= expected,
      f"{e['messages_received']} of {expected}")
check("the server upgraded the four streams", upgrades == 4, f"{upgrades}")
if problems:
    print("FAIL " + "; ".join(problems)); sys.exit(1)
PY

# Bad input: one line, exit 2.
expect_refusal() {  # WHAT EXPECTED_TEXT YAML
  printf '%s\n' "$3" >"$WORK/bad.yaml"
  "$LOADGEN" run "$WORK/bad.yaml" --out "$WORK/bad" >"$WORK/bad.out" 2>&1
  local rc=$? lines
  lines=$(wc -l <"$WORK/bad.out")
  if [[ $rc -eq 2 && $lines -eq 1 ]] && grep -qF "$2" "$WORK/bad.out"; then
    echo "PASS $1: $(cat "$WORK/bad.out")"
  else
    cat "$WORK/bad.out"; fail "$1 (exit $rc, $lines lines)"
  fi
}
BASE="name: bad
target: $PEER
duration: 1s"
expect_refusal "an unknown kind" "expected server_stream, client_stream or bidi" "$BASE
operations: [{websocket: {path: /bidi, kind: unary}}]"
expect_refusal "gRPC and WebSocket mixed" "not a mix" "$BASE
operations: [{websocket: {path: /bidi}}, {rpc: aurigraph.health.v1.HealthService/CheckHealth}]"
expect_refusal "a deadline on a stream" "does not apply to WebSocket operations" "$BASE
operations: [{websocket: {path: /bidi}, deadline: 1s}]"
expect_refusal "a header the upgrade owns" "not a header an HTTP operation may set" "$BASE
operations: [{websocket: {path: /bidi}, metadata: {sec-websocket-key: x}}]"
expect_refusal "a half match" "needs both request and response" "$BASE
operations: [{websocket: {path: /bidi}, stream: {match: {request: id}}}]"
echo "PASS loadgen WebSocket transport"

#!/usr/bin/env bash
# The loadgen's HTTP transport (operations with http:) against servers: Node's
# own http module (tests/e2e/node/http_peer.js), which parses every body as
# JSON and checks its content hash itself, and counts requests, answers and
# the bytes its sockets read and wrote; and the reference server's REST
# gateway, whose Prometheus counters say the same. Each side's counts must be
# the other's, byte for byte. Then deadlines on a server that answers late, a
# server killed mid-run (the run ends with its result), and bad input.
#   loadgen_http_test.sh LOADGEN REFSERVER NODE_DIR
set -u
LOADGEN=$1
REFSERVER=$2
NODE_DIR=$3
source "$(dirname "$0")/common.sh"
command -v node >/dev/null || { echo "FAIL node not installed (scripts/setup installs it)"; exit 1; }
fail() { echo "FAIL $*"; exit 1; }

node "$NODE_DIR/http_peer.js" >"$WORK/peer.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on " "$WORK/peer.out" && break; sleep 0.1; done
PEER=$(awk '/^listening on /{print $3}' "$WORK/peer.out")
[[ -n $PEER ]] || { cat "$WORK/peer.out"; fail "the Node peer did not start"; }

# Values that must be escaped inside JSON strings: quotes, a backslash, a
# newline, a tab and non-ASCII text.
python3 - "$WORK/memos.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for memo in ['say "hi"', 'back\\slash', 'two\nlines', 'tab\there', 'naïve — ✓', '']:
        f.write(json.dumps({"memo": memo}) + "\n")
PY
cat >"$WORK/peer.yaml" <<EOF
name: http-peer
target: $PEER
requests: 600
workers: 2
connections: 4
load: {model: open, rate: 400}
max_generator_lag: 60s  # counts and bytes are checked here, not timing: a loaded machine may lag
metadata:
  x-run: "\${run}"
operations:
  - name: submit
    weight: 3
    http: {path: /v1/transactions}
    data: $WORK/memos.jsonl
    deadline: 5s
    request:
      id: "tx-\${seq}-\${uuid}"
      sender: "acct-\${rand_int:1:1000}"
      receiver: bob
      amount: "\${rand_int:1:1000000000}"
      nonce: "\${seq}"
      memo: "\${data.memo}"
      contentHash: "\${sha256:id,sender,receiver,amount,nonce,memo}"
  - name: limited
    http: {path: /v1/status/429}
  - name: continued
    http: {path: /continue}
EOF
"$LOADGEN" run "$WORK/peer.yaml" --out "$WORK/peer-run" --no-progress >"$WORK/peer-run.out" 2>&1 ||
  { cat "$WORK/peer-run.out"; fail "the run against the Node peer failed"; }
curl -sf "http://$PEER/stats" >"$WORK/peer-stats.json" || fail "the Node peer gave no stats"
python3 - "$WORK/peer-run/result.json" "$WORK/peer-stats.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1])); peer = json.load(open(sys.argv[2]))
ops = {o["name"]: o for o in r["operations"]}
problems = []
def check(what, got, want):
    if got != want: problems.append(f"{what}: {got}, expected {want}")
    else: print(f"PASS {what}: {got}")
submit, limited, continued = ops["submit"], ops["limited"], ops["continued"]
sent = peer["counts"].get("POST /v1/transactions", 0)
check("every submit the peer received was valid JSON with a correct hash (201)",
      peer["statuses"].get("POST /v1/transactions 201", 0), sent)
check("the loadgen counted each submit the peer answered, all OK",
      (submit["requests"], submit["status_codes"]), (sent, {"OK": sent}))
check("and by HTTP status", submit["wire"]["by_status"], {"201": sent})
check("a 429 is RESOURCE_EXHAUSTED, counted by status",
      (limited["status_codes"], limited["wire"]["by_status"]),
      ({"RESOURCE_EXHAUSTED": peer["counts"]["GET /v1/status"]}, {"429": peer["counts"]["GET /v1/status"]}))
check("an interim 100 Continue is skipped: the 200 after it is the answer",
      (continued["status_codes"], continued["wire"]["by_status"]),
      ({"OK": peer["counts"]["GET /continue"]}, {"200": peer["counts"]["GET /continue"]}))
check("requests in all", sent + peer["counts"]["GET /v1/status"] + peer["counts"]["GET /continue"], 600)
check("one ${run} for every request", len(peer["runs"]), 1)
check("request bytes: the loadgen's, the peer's sockets'",
      sum(o["wire"]["request_bytes"] for o in (submit, limited, continued)), peer["read"])
check("response bytes: the loadgen's, the peer's sockets'",
      sum(o["wire"]["response_bytes"] for o in (submit, limited, continued)), peer["written"])
msgs = limited.get("error_messages", {}).get("RESOURCE_EXHAUSTED", {}).get("messages", [])
check("the failure's message names the HTTP status", bool(msgs) and msgs[0]["message"].startswith("HTTP 429 Too Many Requests"), True)
if problems: print("FAIL " + "; ".join(problems)); sys.exit(1)
PY

# A server that answers after the deadline: each request ends at its
# deadline, the connection with it, and the next one opens another.
cat >"$WORK/slow.yaml" <<EOF
name: http-slow
target: $PEER
requests: 20
connections: 2
load: {model: open, rate: 40}
max_generator_lag: 60s
operations:
  - name: slow
    http: {path: /slow}
    deadline: 100ms
EOF
"$LOADGEN" run "$WORK/slow.yaml" --out "$WORK/slow-run" --no-progress >"$WORK/slow-run.out" 2>&1 ||
  { cat "$WORK/slow-run.out"; fail "the run against a slow server failed"; }
python3 - "$WORK/slow-run/result.json" <<'PY' || exit 1
import json, sys
op = json.load(open(sys.argv[1]))["operations"][0]
failed = op.get("failed_latency_us", {}).get("DEADLINE_EXCEEDED", {})
if op["status_codes"] != {"DEADLINE_EXCEEDED": 20} or failed.get("p50", 0) < 100_000:
    print(f"FAIL a request past its deadline: {op['status_codes']} {failed}"); sys.exit(1)
print(f"PASS 20 requests past a 100ms deadline each ended at it: p50 {failed['p50']} us")
PY

# The reference server's REST gateway: its own counters against the loadgen's.
start_server ADDR server --rest-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0
REST=$(awk '/^rest on /{print $3}' "$WORK/server.out")
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")
[[ -n $REST && -n $METRICS ]] || { cat "$WORK/server.out"; fail "the server did not start its gateway"; }
SERVER_PID=${PIDS[-1]}
cat >"$WORK/rest.yaml" <<EOF
name: http-rest
target: ${REST#http://}
requests: 800
workers: 2
connections: 4
load: {model: open, rate: 400}
max_generator_lag: 60s  # counts and bytes are checked here, not timing: a loaded machine may lag
operations:
  - name: submit
    weight: 3
    http: {path: /v1/transactions}
    request:
      id: "tx-\${seq}-\${uuid}"
      sender: "acct-\${rand_int:1:1000}"
      receiver: bob
      amount: "\${rand_int:1:1000000000}"
      nonce: "\${seq}"
      memo: "\${rand_string:12}"
      content_hash: "\${sha256:id,sender,receiver,amount,nonce,memo}"
  - name: get_absent
    http: {path: "/v1/transactions/absent-\${seq}"}
EOF
"$LOADGEN" run "$WORK/rest.yaml" --out "$WORK/rest-run" --no-progress >"$WORK/rest-run.out" 2>&1 ||
  { cat "$WORK/rest-run.out"; fail "the run against the REST gateway failed"; }
curl -sf "$METRICS" >"$WORK/metrics.txt" || fail "no metrics from the server"
python3 - "$WORK/rest-run/result.json" "$WORK/metrics.txt" <<'PY' || exit 1
import json, re, sys
r = json.load(open(sys.argv[1])); text = open(sys.argv[2]).read()
def metric(name, labels):
    m = re.search(r"^" + re.escape(name) + r"\{" + re.escape(labels) + r"\} (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else None
ops = {o["name"]: o for o in r["operations"]}
s, g = ops["submit"], ops["get_absent"]
problems = []
def check(what, got, want):
    if got != want: problems.append(f"{what}: {got}, expected {want}")
    else: print(f"PASS {what}: {got}")
check("201s: the loadgen's, the server's", s["wire"]["by_status"].get("201"),
      metric("aurigraph_refserver_rest_responses_total", 'status="201"'))
check("all submits accepted", s["status_codes"], {"OK": s["requests"]})
check("404s: NOT_FOUND, the server's", (g["status_codes"].get("NOT_FOUND"), g["wire"]["by_status"].get("404")),
      (g["requests"], metric("aurigraph_refserver_rest_responses_total", 'status="404"')))
check("bytes received: the loadgen's requests, the server's count",
      s["wire"]["request_bytes"] + g["wire"]["request_bytes"],
      metric("aurigraph_refserver_rest_bytes_total", 'direction="received"'))
check("bytes sent: the loadgen's responses, the server's count",
      s["wire"]["response_bytes"] + g["wire"]["response_bytes"],
      metric("aurigraph_refserver_rest_bytes_total", 'direction="sent"'))
if problems: print("FAIL " + "; ".join(problems)); sys.exit(1)
PY

# The server killed mid-run: requests fail UNAVAILABLE (a refused connection
# each), and the run still ends on time with its result.
cat >"$WORK/killed.yaml" <<EOF
name: http-killed
target: ${REST#http://}
duration: 3s
connections: 2
load: {model: open, rate: 200}
max_generator_lag: 60s
operations:
  - name: health
    http: {path: /v1/health}
    deadline: 1s
EOF
# Killed once it has answered 150 (however slowly this machine starts the run).
(
  for _ in $(seq 1000); do
    answered=$(curl -s "$METRICS" | awk '/^aurigraph_refserver_rest_responses_total\{status="200"\}/{print int($2)}')
    ((${answered:-0} >= 150)) && break
    sleep 0.01
  done
  kill -9 "$SERVER_PID"
) &
"$LOADGEN" run "$WORK/killed.yaml" --out "$WORK/killed-run" --no-progress >"$WORK/killed-run.out" 2>&1
[[ -s $WORK/killed-run/result.json ]] || { cat "$WORK/killed-run.out"; fail "no result after the server was killed"; }
python3 - "$WORK/killed-run/result.json" <<'PY' || exit 1
import json, sys
codes = json.load(open(sys.argv[1]))["operations"][0]["status_codes"]
if codes.get("OK", 0) < 100 or codes.get("UNAVAILABLE", 0) < 100 or set(codes) - {"OK", "UNAVAILABLE"}:
    print(f"FAIL a server killed after 150 answers, in a 3 s run: {codes}"); sys.exit(1)
print(f"PASS a server killed mid-run: {codes}")
PY

# Bad input: one line naming the problem, a non-zero exit, nothing sent.
expect_refusal() {  # WHAT SCENARIO_FILE TEXT
  local status=0
  "$LOADGEN" run "$2" --out "$WORK/refused" --no-progress >"$WORK/refused.out" 2>&1 || status=$?
  if ((status == 0)) || ! grep -q -- "$3" "$WORK/refused.out"; then
    cat "$WORK/refused.out"
    fail "$1: exit $status, expected a refusal naming '$3'"
  fi
  echo "PASS $1: $(grep -- "$3" "$WORK/refused.out" | head -1)"
}
FREE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/^target: .*/target: 127.0.0.1:$FREE_PORT/; s/^connect_timeout: .*//" "$WORK/slow.yaml" >"$WORK/unreachable.yaml"
echo "connect_timeout: 1s" >>"$WORK/unreachable.yaml"
expect_refusal "an unreachable target" "$WORK/unreachable.yaml" "cannot connect to 127.0.0.1:$FREE_PORT"
printf 'requests: 1\nload: {model: open, rate: 1}\ntarget: %s\noperations:\n  - http: {path: /a}\n  - rpc: aurigraph.approval.v1.ApprovalService/CheckHealth\n' "$PEER" >"$WORK/mixed.yaml"
expect_refusal "gRPC and HTTP operations mixed" "$WORK/mixed.yaml" "not a mix"
printf 'requests: 1\nload: {model: open, rate: 1}\ntarget: %s\noperations:\n  - http: {path: /a}\n    request: {a: "${nope}"}\n' "$PEER" >"$WORK/variable.yaml"
expect_refusal "an unknown variable in a body" "$WORK/variable.yaml" "unknown template variable"
echo "PASS loadgen over HTTP"

#!/usr/bin/env bash
# gRPC's whole bytes on the wire, as the loadgen reads them from the kernel
# (TCP_INFO of its connections to the target), against an independent count:
# a TCP proxy between the loadgen and the reference server that counts every
# byte each way (tests/e2e/byte_proxy.py). The proxy also sees what went
# before the run's start (the HTTP/2 preface and settings of each connection)
# and after its end (GOAWAY), so its counts may exceed the loadgen's by a few
# hundred bytes per connection, never fall below them. A run of several
# operations over shared connections leaves whole bytes unknown (-1) rather
# than give them to one operation.
#   grpc_wire_test.sh LOADGEN REFSERVER
set -u
LOADGEN=$1
REFSERVER=$2
source "$(dirname "$0")/common.sh"
fail() { echo "FAIL $*"; exit 1; }

start_server TARGET server
[[ -n $TARGET ]] || { cat "$WORK/server.out"; fail "the reference server did not start"; }
python3 "$(dirname "$0")/byte_proxy.py" "$TARGET" "$WORK/counts.json" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on " "$WORK/proxy.out" && break; sleep 0.1; done
PROXY=$(awk '/^listening on /{print $3}' "$WORK/proxy.out")
[[ -n $PROXY ]] || { cat "$WORK/proxy.out"; fail "the byte-counting proxy did not start"; }

scenario() {  # file, operations (YAML)
  cat >"$1" <<YAML
name: grpc-wire
target: $PROXY
duration: 2s
connections: 2
workers: 2
load: {model: open, rate: 200}
max_generator_lag: 60s  # bytes are checked here, not timing
operations:
$2
YAML
}
proxy_counts() {  # once every connection the proxy carried has closed
  for _ in $(seq 200); do
    [[ -s $WORK/counts.json ]] &&
      python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(c["opened"] != c["closed"])' \
        "$WORK/counts.json" && return 0
    sleep 0.05
  done
  fail "the proxy's connections did not all close: $(cat "$WORK/counts.json" 2>/dev/null)"
}

scenario "$WORK/one.yaml" "  - name: approve
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    deadline: 2s
    request:
      approval_id: \"w-\${uuid}\"
      type: APPROVAL_TYPE_LARGE_TRANSACTION
      requester_id: \"client-\${worker}\"
      description: wire bytes
      total_validators: 5
      required_approvals: 3"
"$LOADGEN" run "$WORK/one.yaml" --out "$WORK/one" --no-progress >"$WORK/one.out" 2>&1 ||
  { cat "$WORK/one.out"; fail "the run through the proxy failed"; }
proxy_counts
python3 - "$WORK/one/result.json" "$WORK/counts.json" <<'PY' || exit 1
import json, sys
op = json.load(open(sys.argv[1]))["operations"][0]; proxy = json.load(open(sys.argv[2]))
w = op["wire"]
problems = []
def check(what, ok, shown):
    print(("PASS " if ok else "FAIL ") + f"{what}: {shown}")
    if not ok: problems.append(what)
check("every call answered OK", op["status_codes"] == {"OK": op["requests"]} and op["requests"] > 0, op["status_codes"])
for side, mine, theirs in (("sent", w["request_bytes"], proxy["up"]), ("received", w["response_bytes"], proxy["down"])):
    check(f"bytes {side}: the loadgen's kernel count within the proxy's, less at most 512 per connection",
          0 <= theirs - mine <= 512 * proxy["opened"] and mine > w[f"{'request' if side == 'sent' else 'response'}_payload_bytes"],
          f"loadgen {mine}, proxy {theirs}, {proxy['opened']} connections")
sys.exit(1 if problems else 0)
PY

scenario "$WORK/two.yaml" "  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
  - name: tx_health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth"
"$LOADGEN" run "$WORK/two.yaml" --out "$WORK/two" --no-progress >"$WORK/two.out" 2>&1 ||
  { cat "$WORK/two.out"; fail "the two-operation run failed"; }
python3 - "$WORK/two/result.json" <<'PY' || exit 1
import json, sys
ops = json.load(open(sys.argv[1]))["operations"]
whole = [(o["wire"]["request_bytes"], o["wire"]["response_bytes"]) for o in ops]
if whole != [(-1, -1), (-1, -1)]:
    print(f"FAIL two operations on shared connections were given whole bytes: {whole}"); sys.exit(1)
print("PASS two operations on shared connections: whole bytes unknown (-1), payloads still counted")
PY

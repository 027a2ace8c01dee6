#!/usr/bin/env bash
# End to end with real Prometheus peers on loopback: a loadgen run against the
# reference server (a node of a 3-node cluster), both exposing metrics; promtool checks both expositions and
# the bundled rules; a real Prometheus with the bundled configuration scrapes
# them and every expression in the rules and dashboards returns data; the
# values the run pushed to a real Pushgateway match its result.json exactly.
set -euo pipefail
LOADGEN=$1
REFSERVER=$2
DASHBOARDS=$3
source "$(dirname "$0")/common.sh"
fail() { echo "FAIL $*"; exit 1; }
for tool in prometheus prometheus-pushgateway promtool python3; do
  command -v "$tool" >/dev/null || fail "$tool not installed (scripts/setup installs it)"
done
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for_line() {  # file, pattern
  for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  cat "$1"; fail "no '$2' in $1"
}
fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1"; }

# The system under test, with errors injected so error series exist: node n1
# of a 3-node cluster, so the consensus series exist too.
PEERS="n1=127.0.0.1:$(free_port),n2=127.0.0.1:$(free_port),n3=127.0.0.1:$(free_port)"
"$REFSERVER" --node-id n1 --peers "$PEERS" --metrics-listen 127.0.0.1:0 --error-rate 0.02 \
  >"$WORK/server.out" 2>&1 &
PIDS+=($!)
for node in n2 n3; do
  "$REFSERVER" --node-id $node --peers "$PEERS" >"$WORK/$node.out" 2>&1 &
  PIDS+=($!)
done
wait_for_line "$WORK/server.out" "^metrics on "
TARGET=$(awk '/^listening on /{print $3}' "$WORK/server.out")
SERVER_METRICS=$(sed -n 's|^metrics on http://\(.*\)/metrics$|\1|p' "$WORK/server.out")

PUSH_PORT=$(free_port)
prometheus-pushgateway --web.listen-address="127.0.0.1:$PUSH_PORT" >"$WORK/pushgateway.out" 2>&1 &
PIDS+=($!)

cat >"$WORK/run.yaml" <<'YAML'
name: observability-e2e
duration: 60s
workers: 2
load: {model: open, rate: 400}
operations:
  - name: submit_approval
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    weight: 2
    request: {approval_id: "obs-${uuid}", total_validators: 3, required_approvals: 2}
  - name: submit_transaction
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    weight: 2
    request:
      id: "obs-${seq}-${uuid}"
      sender: a
      receiver: b
      amount: 5
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
  - name: watch
    rpc: aurigraph.approval.v1.ApprovalService/WatchApprovalUpdates
    stream: {streams: 2, timestamp_field: sent_at_unix_nanos}
gates: ["p99 < 1s"]
YAML
"$LOADGEN" run "$WORK/run.yaml" --target "$TARGET" --out "$WORK/run" --metrics-listen 127.0.0.1:0 \
  --push-gateway "http://127.0.0.1:$PUSH_PORT" --push-job aurigraph-loadgen --push-instance e2e \
  --push-interval 1s >"$WORK/loadgen.out" 2>&1 &
LOADGEN_PID=$!
PIDS+=($LOADGEN_PID)
wait_for_line "$WORK/loadgen.out" "^metrics: "
LOADGEN_METRICS=$(sed -n 's|^metrics: http://\(.*\)/metrics$|\1|p' "$WORK/loadgen.out")

sleep 3
for endpoint in "$LOADGEN_METRICS" "$SERVER_METRICS"; do
  fetch "http://$endpoint/metrics" >"$WORK/exposition"
  promtool check metrics <"$WORK/exposition" || fail "promtool check metrics: $endpoint"
done
echo "ok   promtool check metrics passes on the loadgen and reference server expositions"
promtool check config "$DASHBOARDS/prometheus/prometheus.yml" >/dev/null || fail "promtool check config"
promtool test rules "$DASHBOARDS"/prometheus/rules/*_test.yml >/dev/null || fail "promtool test rules"
echo "ok   bundled prometheus.yml is valid and its rules pass their unit tests"

# The bundled configuration as it is, pointed at this run's ports.
mkdir -p "$WORK/prometheus"
cp -r "$DASHBOARDS/prometheus/rules" "$WORK/prometheus/"
sed -e "s/127.0.0.1:9464/$LOADGEN_METRICS/" -e "s/127.0.0.1:9465/$SERVER_METRICS/" \
  -e "s/127.0.0.1:9091/127.0.0.1:$PUSH_PORT/" "$DASHBOARDS/prometheus/prometheus.yml" \
  >"$WORK/prometheus/prometheus.yml"
PROM_PORT=$(free_port)
prometheus --config.file="$WORK/prometheus/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.out" 2>&1 &
PROM_PID=$!
PIDS+=($PROM_PID)

python3 - "$PROM_PORT" "$DASHBOARDS" <<'PY' || { tail -5 "$WORK/prometheus.out"; exit 1; }
import glob, json, re, sys, time, urllib.parse, urllib.request
port, dashboards = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"

def query(expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.load(urllib.request.urlopen(url, timeout=10))
    assert body["status"] == "success", body
    return body["data"]["result"]

deadline = time.time() + 45
while True:
    try:
        up = {r["metric"]["job"]: r["value"][1] for r in query("up")}
        ready = (up.get("aurigraph-loadgen") == "1" and up.get("aurigraph-refserver") == "1"
                 and query("operation:aurigraph_loadgen_requests:rate1m")
                 and query("rate(aurigraph_loadgen_stream_messages_received_total[30s]) > 0")
                 and query("grpc_method:grpc_server_handling_seconds:p99_1m"))
        if ready:
            break
    except Exception:
        pass
    assert time.time() < deadline, "Prometheus never scraped both targets with data"
    time.sleep(1)
print("ok   Prometheus scrapes the loadgen and the reference server (up == 1)")

expressions = []  # (where, PromQL)
for path in sorted(glob.glob(f"{dashboards}/prometheus/rules/*.yml")):
    if path.endswith("_test.yml"):
        continue
    text = open(path).read()
    # Minimal reading of our own rule files: each rule's record/alert and its expr.
    for block in re.split(r"\n      - (?=record|alert)", text)[1:]:
        name = block.split(":", 1)[1].split("\n", 1)[0].strip()
        expr = block.split("expr:", 1)[1]
        lines = expr.split("\n")
        if lines[0].strip() == "|":
            body = []
            for line in lines[1:]:
                if line.startswith("          ") or not line.strip():
                    body.append(line)
                else:
                    break
            expr = "\n".join(body).strip()
        else:
            expr = lines[0].strip()
        if block.startswith("alert"):
            # An alert fires on a condition; its data is the left side of it.
            expr = re.split(r"\s(?:>|<|>=|<=|==)\s+[0-9.]+", expr, maxsplit=1)[0]
        expressions.append((f"{path.split('/')[-1]}: {name}", expr))
for path in sorted(glob.glob(f"{dashboards}/grafana/*.json")):
    board = json.load(open(path))
    variables = {v["name"] for v in board["templating"]["list"]}
    assert "datasource" in variables, f"{path}: no datasource variable"
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", f"{path}: {panel['title']}: fixed datasource"
        for target in panel["targets"]:
            expr = (target["expr"].replace("$__rate_interval", "30s").replace('"$instance"', '".*"'))
            expressions.append((f"{path.split('/')[-1]}: {panel['title']} [{target['refId']}]", expr))

empty = []
for where, expr in expressions:
    if not query(expr):
        empty.append(f"{where}: {expr}")
assert not empty, "expressions without data:\n  " + "\n  ".join(empty)
print(f"ok   all {len(expressions)} expressions of the rules and dashboards return data")
sample = query('sum by (operation) (rate(aurigraph_loadgen_requests_total[30s]))')
print("     e.g. " + ", ".join(f"{r['metric']['operation']} {float(r['value'][1]):.0f}/s" for r in sample))
PY

# Stop the run (it drains and writes its result), then compare what it pushed.
kill -INT "$LOADGEN_PID"
wait "$LOADGEN_PID" || true
[[ -f $WORK/run/result.json ]] || { cat "$WORK/loadgen.out"; fail "the run wrote no result"; }
fetch "http://127.0.0.1:$PUSH_PORT/metrics" >"$WORK/pushed"
fetch "http://$SERVER_METRICS/metrics" >"$WORK/server-metrics"
python3 - "$WORK/run/result.json" "$WORK/pushed" "$WORK/server-metrics" <<'PY'
import json, re, sys
result = json.load(open(sys.argv[1]))
pushed = {}
for line in open(sys.argv[2]):
    m = re.match(r'^(aurigraph_loadgen_\w+)\{([^}]*)\} (\S+)$', line)
    if not m:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    if labels.get("job") != "aurigraph-loadgen" or labels.get("instance") != "e2e":
        continue
    key = (m.group(1), labels.get("operation", ""), labels.get("grpc_code", ""))
    pushed[key] = float(m.group(3))
# Without warm-up every completion is in result.json, as in the pushed counters.
assert result["generator"]["warmup_completions"] == 0
checked = 0
for op in result["operations"]:
    if op["kind"] == "unary":
        for code, count in op["status_codes"].items():
            got = pushed.get(("aurigraph_loadgen_requests_total", op["name"], code))
            assert got == count, f"{op['name']} {code}: pushed {got}, result.json {count}"
            checked += 1
            if code != "OK":
                got = pushed.get(("aurigraph_loadgen_errors_total", op["name"], code))
                assert got == count, f"{op['name']} errors {code}: pushed {got}, result.json {count}"
                checked += 1
        got = pushed.get(("aurigraph_loadgen_items_total", op["name"], ""))
        assert got == op["items"], f"{op['name']} items: pushed {got}, result.json {op['items']}"
    else:
        got = pushed.get(("aurigraph_loadgen_stream_messages_received_total", op["name"], ""))
        want = op["stream"]["messages_received"]
        assert got == want, f"{op['name']} messages: pushed {got}, result.json {want}"
    checked += 1
sent = pushed.get(("aurigraph_loadgen_requests_sent_total", "", ""))
assert sent == result["generator"]["sent"], f"sent: pushed {sent}, result.json {result['generator']['sent']}"
assert result["total"]["requests"] > 1000 and any(
    c != "OK" for op in result["operations"] for c in op["status_codes"]), "the run was too small to mean much"
print(f"ok   Pushgateway holds exactly the run's counts ({checked + 1} series checked, "
      f"{result['total']['requests']} requests)")

# The server's own grpc_server_handled_total agrees with what the loadgen saw, code by code.
handled = {}
for line in open(sys.argv[3]):
    m = re.match(r'^grpc_server_handled_total\{([^}]*)\} (\S+)$', line)
    if m:
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        handled[(labels["grpc_method"], labels["grpc_code"])] = float(m.group(2))
for op in result["operations"]:
    if op["kind"] != "unary":
        continue
    method = op["rpc"].split("/")[1]
    for code, count in op["status_codes"].items():
        assert handled.get((method, code)) == count, f"{method} {code}: server {handled.get((method, code))}, loadgen {count}"
print("ok   the server's grpc_server_handled_total matches the loadgen's counts by method and code")
PY

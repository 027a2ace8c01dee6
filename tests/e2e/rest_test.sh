#!/usr/bin/env bash
# The REST/JSON gateway (--rest-listen) against clients no one here wrote:
# Python's http.client for each route's answers (transactions and approvals:
# status codes, problem+json, the protos' JSON mapping, Allow), wrk posting distinct transactions from a
# Lua script (every 201 counted by the server's own accepted counter, and
# readable back over REST), h2load keeping connections alive; then bad input
# (malformed JSON, an unknown field, a wrong content type, an oversized body,
# oversized headers, bytes that are not HTTP, a client that sends and never
# reads) each answered with its status or closed, while a canary keeps being
# served and the server's memory stays bounded; and injected faults (an error
# rate, a fixed latency) answered as over gRPC.
#   rest_test.sh REFSERVER
set -u
REFSERVER=$1
source "$(dirname "$0")/common.sh"
command -v wrk >/dev/null || { echo "FAIL wrk not installed (scripts/setup installs it)"; exit 1; }

start_server ADDR server --rest-listen 127.0.0.1:0 --rest-max-body 64KiB --metrics-listen 127.0.0.1:0
REST=$(awk '/^rest on /{print $3}' "$WORK/server.out")
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")
[[ -n $REST && -n $METRICS ]] || { cat "$WORK/server.out"; echo "FAIL the server did not start its gateway"; exit 1; }
SERVER_PID=${PIDS[-1]}

python3 - "$REST" <<'PY' || exit 1
import hashlib, http.client, json, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)  # one keep-alive connection
problems = []
def call(method, path, body=None, content_type="application/json", headers=None):
    h = dict(headers or {})
    if body is not None:
        h["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheader("Content-Type"), r, data
def tx(i, amount=7):
    t = {"id": f"rest-{i}", "sender": "alice", "receiver": "bob", "amount": amount, "nonce": i}
    t["contentHash"] = hashlib.sha256("\n".join([t["id"], "alice", "bob", str(amount), str(i), ""]).encode()).hexdigest()
    return t
def expect(what, got, want, ctype=None, content_type=None):
    if got != want or (ctype and content_type != ctype):
        problems.append(f"{what}: {got} {content_type}, expected {want} {ctype or ''}")
    else:
        print(f"PASS {what}: {got}")

s, ct, _, body = call("GET", "/v1/health")
expect("health", (s, json.loads(body)), (200, {"status": "SERVING"}), "application/json", ct)
s, ct, _, body = call("POST", "/v1/transactions", json.dumps(tx(1)))
answer = json.loads(body)
expect("a transaction is created", (s, answer.get("id"), answer.get("status")),
       (201, "rest-1", "TRANSACTION_STATUS_ACCEPTED"), "application/json", ct)
s, ct, _, body = call("POST", "/v1/transactions", json.dumps(tx(1)))
p = json.loads(body)
expect("the same id again is a conflict", (s, p.get("status"), p.get("code")), (409, 409, "ALREADY_EXISTS"),
       "application/problem+json", ct)
s, ct, _, body = call("GET", "/v1/transactions/rest-1")
got = json.loads(body)
expect("read back in the protos' JSON mapping", (s, got.get("amount"), got.get("contentHash")),
       (200, "7", tx(1)["contentHash"]))
s, ct, _, body = call("GET", "/v1/transactions/no%20such")
expect("an unknown id", (s, json.loads(body)["detail"]), (404, "transaction no such not found"),
       "application/problem+json", ct)
batch = {"transactions": [tx(2), tx(3), tx(1)]}
s, ct, _, body = call("POST", "/v1/transactions:batch", json.dumps(batch))
results = [r.get("status") for r in json.loads(body).get("results", [])]
expect("a batch answers per transaction", (s, results),
       (200, ["TRANSACTION_STATUS_ACCEPTED", "TRANSACTION_STATUS_ACCEPTED", "TRANSACTION_STATUS_REJECTED"]))
approval = {"approvalId": "ap-1", "type": "APPROVAL_TYPE_LARGE_TRANSACTION", "requesterId": "q",
            "totalValidators": 3, "requiredApprovals": 2}
s, ct, _, body = call("POST", "/v1/approvals", json.dumps(approval))
expect("an approval is created", (s, json.loads(body).get("status")), (201, "APPROVAL_STATUS_PENDING"))
for validator in ("v1", "v2"):
    s, ct, _, body = call("POST", "/v1/approvals/ap-1/votes",
                          json.dumps({"validatorId": validator, "decision": "VALIDATOR_DECISION_APPROVE"}))
state = json.loads(body)
expect("two votes of three needed two: approved", (s, state.get("status"), state.get("approvals")),
       (200, "APPROVAL_STATUS_APPROVED", 2))
s, ct, _, body = call("GET", "/v1/approvals/ap-1?include_votes=true")
expect("read back with its votes", (s, [v.get("validatorId") for v in json.loads(body).get("votes", [])]),
       (200, ["v1", "v2"]))
s, ct, _, body = call("POST", "/v1/approvals/ap-1/votes",
                      json.dumps({"approvalId": "ap-2", "validatorId": "v3", "decision": "VALIDATOR_DECISION_APPROVE"}))
expect("a vote whose body names another approval", s, 400, "application/problem+json", ct)
s, ct, _, body = call("POST", "/v1/transactions", "{not json")
expect("malformed JSON", (s, json.loads(body)["code"]), (400, "INVALID_ARGUMENT"), "application/problem+json", ct)
s, ct, _, body = call("POST", "/v1/transactions", json.dumps({**tx(4), "color": "red"}))
expect("an unknown field", (s, "color" in json.loads(body)["detail"]), (400, True))
s, ct, _, body = call("POST", "/v1/transactions", json.dumps({**tx(5), "amount": 0}))
expect("validation as over gRPC", (s, json.loads(body)["code"]), (400, "INVALID_ARGUMENT"))
s, ct, _, body = call("POST", "/v1/transactions", json.dumps(tx(6)), content_type="text/plain")
expect("a wrong content type", s, 415, "application/problem+json", ct)
s, ct, r, body = call("DELETE", "/v1/transactions/rest-1")
expect("a wrong method, with Allow", (s, r.getheader("Allow")), (405, "GET"))
s, ct, _, body = call("GET", "/v2/nothing")
expect("an unknown path", s, 404, "application/problem+json", ct)
s, ct, _, body = call("GET", "/v1/health")
expect("the connection kept alive through it all", s, 200)
s, ct, _, body = call("POST", "/v1/transactions", "x" * 70000)
expect("a body over --rest-max-body (64 KiB)", s, 413, "application/problem+json", ct)
conn.close()
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
s, ct, _, body = call("GET", "/v1/health", headers={"X-Big": "b" * 20000})
expect("headers over 16 KiB", s, 431)
for p in problems:
    print("FAIL", p)
sys.exit(1 if problems else 0)
PY

# wrk: distinct transactions from 2 threads on 8 connections for 3 s.
python3 - "$WORK/bodies" <<'PY'
import hashlib, json, sys
with open(sys.argv[1], "w") as out:
    for i in range(120000):
        t = {"id": f"wrk-{i}", "sender": "s", "receiver": "r", "amount": 1, "nonce": i}
        t["contentHash"] = hashlib.sha256("\n".join([t["id"], "s", "r", "1", str(i), ""]).encode()).hexdigest()
        out.write(json.dumps(t, separators=(",", ":")) + "\n")
PY
accepted() { curl -s "$METRICS" | awk '/^aurigraph_refserver_transactions_total\{outcome="accepted"\}/{print $2}'; }
BEFORE=$(accepted)
BODIES="$WORK/bodies" SLICE=60000 wrk -t 2 -c 8 -d 3s -s "$(dirname "$0")/rest/submit.lua" "$REST" >"$WORK/wrk.out" 2>&1
AFTER=$(accepted)
CREATED=$(awk '$1 == "status" && $2 == 201 {print $3}' "$WORK/wrk.out")
OTHER=$(awk '$1 == "status" && $2 != 201 {n += $3} END {print n + 0}' "$WORK/wrk.out")
ACCEPTED=$(python3 -c "print(int(float('$AFTER') - float('$BEFORE')))")
# wrk drops the connections at its end: what was in flight on them (one
# request per connection) was accepted without wrk seeing the 201.
if [[ -z $CREATED || $OTHER -ne 0 ]] || ((ACCEPTED < CREATED || ACCEPTED > CREATED + 8)); then
  cat "$WORK/wrk.out"
  echo "FAIL wrk: ${CREATED:-no} 201s and $OTHER other answers; the server accepted $ACCEPTED"
  exit 1
fi
COUNTED=$(curl -s "$METRICS" | awk '/^aurigraph_refserver_rest_responses_total\{status="201"\}/{print $2}')
python3 -c "import sys; sys.exit(0 if float('${COUNTED:-0}') >= $CREATED else 1)" ||
  { echo "FAIL the server counted ${COUNTED:-no} 201 responses, wrk saw $CREATED"; exit 1; }
for first in wrk-1 wrk-60001; do  # early in each thread's slice
  CODE=$(curl -s -o /dev/null -w '%{http_code}' "$REST/v1/transactions/$first")
  [[ $CODE == 200 ]] || { echo "FAIL $first, acknowledged 201, reads $CODE"; exit 1; }
done
echo "PASS wrk: $CREATED transactions created in 3 s ($(grep -m1 'Requests/sec' "$WORK/wrk.out" | awk '{print $2}')/s), the server accepted $ACCEPTED (wrk leaves up to 8 unseen), read back"

h2load --h1 -n 20000 -c 8 "$REST/v1/health" >"$WORK/h2load.out" 2>&1
grep -q "20000 succeeded" "$WORK/h2load.out" && grep -q "status codes: 20000 2xx" "$WORK/h2load.out" ||
  { cat "$WORK/h2load.out"; echo "FAIL h2load --h1: not every request 2xx"; exit 1; }
echo "PASS h2load --h1: 20000 requests on 8 keep-alive connections, all 2xx"

# Abuse beside a canary: bytes that are not HTTP, then 4 clients that send
# pipelined requests for 3 s and never read an answer.
RSS_BEFORE=$(awk '/^VmRSS:/{print $2}' "/proc/$SERVER_PID/status")
python3 - "$REST" "$SERVER_PID" <<'PY' || exit 1
import http.client, socket, sys, threading, time, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
pid = sys.argv[2]
problems = []
s = socket.create_connection((url.hostname, url.port))
s.sendall(b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n")
reply = s.recv(200)
if not reply.startswith(b"HTTP/1.1 400"):
    problems.append(f"bytes that are not HTTP: {reply[:40]!r}")
else:
    print("PASS bytes that are not HTTP: 400, then closed")
s.close()
stop = time.monotonic() + 3
sent = [0]
def flood():
    c = socket.create_connection((url.hostname, url.port))
    c.settimeout(0.2)
    request = b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n" * 100
    while time.monotonic() < stop:
        try:
            c.sendall(request)
            sent[0] += 100
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            break
    threading.Event().wait(0.5)
    c.close()
floods = [threading.Thread(target=flood) for _ in range(4)]
for f in floods: f.start()
worst, served, peak = 0.0, 0, 0
while time.monotonic() < stop:
    begun = time.monotonic()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("GET", "/v1/health")
    if conn.getresponse().status == 200:
        served += 1
    conn.close()
    worst = max(worst, time.monotonic() - begun)
    rss = int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")))
    peak = max(peak, rss)
    time.sleep(0.02)
for f in floods: f.join()
if served < 20 or worst > 2:
    problems.append(f"the canary: {served} answers, the slowest in {worst * 1000:.0f} ms")
else:
    print(f"PASS 4 clients that never read ({sent[0]} requests sent): the canary got {served} answers, "
          f"the slowest in {worst * 1000:.0f} ms; server RSS peak {peak // 1024} MiB")
print(f"peak {peak}")
for p in problems:
    print("FAIL", p)
sys.exit(1 if problems else 0)
PY
RSS_AFTER=$(awk '/^VmRSS:/{print $2}' "/proc/$SERVER_PID/status")
# Each unread connection holds what its socket buffers hold, not what was sent.
if ((RSS_AFTER > RSS_BEFORE + 65536)); then
  echo "FAIL server RSS grew from $((RSS_BEFORE / 1024)) to $((RSS_AFTER / 1024)) MiB under clients that never read"
  exit 1
fi
echo "PASS server RSS $((RSS_BEFORE / 1024)) MiB before the abuse, $((RSS_AFTER / 1024)) MiB after"

# Injected faults, as over gRPC: every call failing UNAVAILABLE, then a fixed latency.
start_server ADDR2 faulty --rest-listen 127.0.0.1:0 --error-rate 1 --error-code 14
FAULTY=$(awk '/^rest on /{print $3}' "$WORK/faulty.out")
BODY=$(curl -s -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
  -d "$(head -1 "$WORK/bodies")" "$FAULTY/v1/transactions")
[[ $BODY == *'"detail":"injected fault"'*' 503' ]] || { echo "FAIL an injected UNAVAILABLE: $BODY"; exit 1; }
echo "PASS an injected UNAVAILABLE is a 503 problem+json"
start_server ADDR3 slow --rest-listen 127.0.0.1:0 --latency fixed:30ms
SLOW=$(awk '/^rest on /{print $3}' "$WORK/slow.out")
TOOK=$(curl -s -o /dev/null -w '%{time_total}' "$SLOW/v1/transactions/none")
python3 -c "import sys; sys.exit(0 if float('$TOOK') >= 0.030 else 1)" ||
  { echo "FAIL an injected 30 ms latency: answered in ${TOOK} s"; exit 1; }
echo "PASS an injected 30 ms latency holds the answer (${TOOK} s)"

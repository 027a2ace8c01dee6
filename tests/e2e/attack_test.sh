#!/usr/bin/env bash
# One client must not take the reference server down. Against one real server
# process, each attack of aurigraph-h2abuse runs beside a canary client
# (CheckHealth at 50 calls/s, each with a 1 s deadline, on its own connection)
# that must keep at least 99% of its calls OK within the deadline; the
# server's resident memory (VmRSS) must stay under a bound during the attack
# and come back near its baseline after it:
#   - gzip bombs: 3 requests of 1 MB that inflate to 1 GiB each, refused at the
#     64 MiB message limit without being inflated in full;
#   - abandoned streams: 50,000 streams opened with HEADERS only on one
#     connection, by a client that acknowledges SETTINGS (gRPC holds it to
#     SETTINGS_MAX_CONCURRENT_STREAMS) and by one that does not (the server
#     closes its connection with a GOAWAY). The canary is measured but not held
#     to a share for the second: the server sees the streams only every 50 ms,
#     through channelz, and by then gRPC has read thousands more, which it
#     must still undo (84% to 100% of the canary's calls were on time);
#   - rapid reset: 60,000 streams each cancelled at once; the connection is
#     closed with a GOAWAY;
#   - a header block that never ends (CONTINUATION after CONTINUATION): the
#     connection is closed;
#   - overload: 2 connections asking for 8,000 GetTransaction calls in flight
#     each, against a server that allows 1,024 streams per connection.
# Then a server behind its HTTP/2 front (--http2-front), which counts streams
# on the wire before gRPC reads them: the client that does not acknowledge
# SETTINGS is held to the limit like any other (its streams beyond it refused,
# then, after four times the limit, its connection closed with a GOAWAY), and there the canary must keep
# 99% of its calls in time against it too; rapid reset, the endless header
# block (closed with a GOAWAY saying why) and the overload again, and an
# overload spread over 16 connections of 1,000 calls each, each within its
# connection's limit, whose streams beyond their share of --max-open-streams
# are refused.
# Also: requests the server cannot decode are answered INTERNAL with a reason,
# the counters of the limits are exported, and bad flags are one line, exit 2.
set -uo pipefail
H2ABUSE=$1
REFSERVER=$2
source "$(dirname "$0")/common.sh"
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

# Flags: one line naming the problem, exit 2.
flag() {  # expected stderr, flags...
  local want=$1
  shift
  timeout 10 "$REFSERVER" --listen 127.0.0.1:0 "$@" >"$WORK/flag.out" 2>&1
  local rc=$?
  if [[ $rc -eq 2 && $(wc -l <"$WORK/flag.out") -eq 1 ]] && grep -qF -- "$want" "$WORK/flag.out"; then
    echo "ok   $* -> $(cat "$WORK/flag.out")"
  else
    fail "$* exited $rc: $(cat "$WORK/flag.out")"
  fi
}
flag "--count-metadata: 'authorization' looks like a credential header" --count-metadata x-tenant,authorization
flag "--count-metadata: 'X-Api-Key' looks like a credential header" --count-metadata X-Api-Key
flag "--max-in-flight must be >= 1" --max-in-flight 0
flag "--max-concurrent-streams must be >= 1" --max-concurrent-streams 0
flag "--max-stream-resets must be >= 1" --max-stream-resets 0
flag "--http2-front: not with --tls-cert" --http2-front --tls-cert /dev/null --tls-key /dev/null

start_server ADDR attack --metrics-listen 127.0.0.1:0
SERVER_PID=${PIDS[-1]}
for _ in $(seq 50); do grep -q "^metrics on" "$WORK/attack.out" && break; sleep 0.1; done
METRICS_URL=$(awk '/^metrics on /{print $3}' "$WORK/attack.out")
[[ -n $ADDR && -n $METRICS_URL ]] || { echo "FAIL the server did not start"; cat "$WORK/attack.out"; exit 1; }
rss_mb() { awk '/^VmRSS/{print int($2 / 1024)}' "/proc/$SERVER_PID/status"; }
sleep 1
BASELINE=$(rss_mb)
echo "ok   server at $ADDR, resident ${BASELINE} MB"

# attack NAME PEAK_BOUND_MB CANARY_PERCENT ARGS...: runs one attack with the
# canary beside it; the attack's output is in $WORK/NAME.out. Memory must stay
# under BASELINE + PEAK_BOUND_MB and come back under BASELINE + 64 MB within
# 10 s; at least CANARY_PERCENT of the canary's calls must be OK in time. An
# attack that failed while the machine stalled is run again (until_quiet), and
# not judged when it stalled on every attempt.
attack() {
  until_quiet "$1" attack_once "$@"
  [[ $? -eq $NOT_JUDGED ]] && return
  for problem in "${PROBLEMS[@]}"; do fail "$problem"; done
}
attack_once() {  # as attack; the failures in PROBLEMS
  local name=$1 peak_bound=$(($BASELINE + $2)) canary_percent=$3
  shift 3
  PROBLEMS=()
  rss_mb >"$WORK/$name.peak"
  (
    peak=0
    while kill -0 "$SERVER_PID" 2>/dev/null; do
      r=$(rss_mb)
      ((r > peak)) && peak=$r && echo "$peak" >"$WORK/$name.peak"
      sleep 0.05
    done
  ) &
  local sampler=$!
  "$H2ABUSE" canary --target "$ADDR" --rate 50 --duration 8s --deadline 1s >"$WORK/$name.canary" 2>&1 &
  local canary=$!
  sleep 1
  timeout 60 "$H2ABUSE" "$@" --target "$ADDR" >"$WORK/$name.out" 2>&1 || PROBLEMS+=("$name: the attacker failed")
  wait "$canary"
  local after
  for _ in $(seq 100); do
    after=$(rss_mb)
    ((after < BASELINE + 64)) && break
    sleep 0.1
  done
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  local peak
  peak=$(cat "$WORK/$name.peak" 2>/dev/null || echo 0)
  echo "     $name: resident ${BASELINE} MB before, ${peak} MB at the peak, ${after} MB after"
  sed 's/^/     /' "$WORK/$name.out" "$WORK/$name.canary"
  ((peak < peak_bound)) || PROBLEMS+=("$name: resident memory peaked at ${peak} MB (bound ${peak_bound} MB)")
  ((after < BASELINE + 64)) || PROBLEMS+=("$name: resident memory stayed at ${after} MB")
  python3 - "$WORK/$name.canary" "$canary_percent" <<'PY' || PROBLEMS+=("$name: the canary was not served")
import re, sys
m = re.search(r"canary: (\d+) of (\d+) calls OK", open(sys.argv[1]).read())
ok, sent = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
assert sent >= 300 and ok >= float(sys.argv[2]) / 100 * sent, (ok, sent)
PY
  ((${#PROBLEMS[@]} == 0))
}
expect() {  # name, fragment of its output
  grep -qF -- "$2" "$WORK/$1.out" && echo "ok   $1: $2" || fail "$1: no '$2' in its output"
}

BOMB_PATH=/aurigraph.transaction.v1.TransactionService/SubmitTransaction
attack bomb 200 99 bomb --count 3 --inflated 1GiB --path "$BOMB_PATH"
expect bomb '3 x grpc-status 8 "the gzip request inflates to more than 67108864 bytes, the message limit"'

attack abandon 150 99 abandon --streams 50000 --hold 3s
expect abandon "SETTINGS_MAX_CONCURRENT_STREAMS 1024"
expect abandon "connection closed by the server"

attack abandon-unacknowledged 300 0 abandon --streams 50000 --hold 3s --no-settings-ack
expect abandon-unacknowledged "connection closed by the server (GOAWAY ENHANCE_YOUR_CALM"

attack rapid-reset 300 99 reset --streams 60000 --duration 20s
expect rapid-reset "connection closed by the server (GOAWAY ENHANCE_YOUR_CALM"

attack continuation 150 99 continuation --header-bytes 1GiB --duration 20s
expect continuation "connection closed by the server"

attack overload 250 99 flood --connections 2 --per-connection 8000 --duration 5s \
  --path /aurigraph.transaction.v1.TransactionService/GetTransaction
expect overload "2 connections x 1024 streams in flight"

"$H2ABUSE" malformed --target "$ADDR" >"$WORK/malformed.out" 2>&1
expect malformed 'bytes that are not the request message: grpc-status 13 "the request is not a valid aurigraph.common.v1.HealthRequest"'
expect malformed 'gzip-flagged message that is not gzip: grpc-status 13 "the request is not valid gzip: incorrect header check"'
expect malformed 'length prefix beyond the data: grpc-status 13 "the request carried no message"'

# metrics_hold 'PYTHON CONDITION' MESSAGE: the condition holds of the server's
# metrics, each sample read as value('NAME{LABELS}').
metrics_hold() {
  python3 - "$METRICS_URL" "$1" "$2" <<'PY' || fail "metrics: $1"
import re, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1]).read().decode()
def value(sample):
    m = re.search(r"^%s (\S+)$" % re.escape(sample), text, re.M)
    assert m, "no " + sample
    return float(m.group(1))
assert eval(sys.argv[2]), sys.argv[2]
print("ok   metrics: " + sys.argv[3])
PY
}
metrics_hold 'value("aurigraph_refserver_connections_closed_total{reason=\"stream_resets\"}") + value("aurigraph_refserver_connections_closed_total{reason=\"stream_limit\"}") >= 2' \
  "connections closed for abusing their streams"
metrics_hold 'value("aurigraph_refserver_calls_shed_total") >= 0 and value("aurigraph_refserver_calls_in_flight") == 0' \
  "no call held after the attacks"

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
start_server ADDR front --metrics-listen 127.0.0.1:0 --http2-front
SERVER_PID=${PIDS[-1]}
for _ in $(seq 50); do grep -q "^metrics on" "$WORK/front.out" && break; sleep 0.1; done
METRICS_URL=$(awk '/^metrics on /{print $3}' "$WORK/front.out")
[[ -n $ADDR && -n $METRICS_URL ]] || { echo "FAIL the server behind its front did not start"; cat "$WORK/front.out"; exit 1; }
sleep 1
BASELINE=$(rss_mb)
echo "ok   server behind its HTTP/2 front at $ADDR, resident ${BASELINE} MB"

attack front-abandon-unacknowledged 150 99 abandon --streams 50000 --hold 3s --no-settings-ack
expect front-abandon-unacknowledged '4096 x RST_STREAM REFUSED_STREAM'
expect front-abandon-unacknowledged 'connection closed by the server (GOAWAY ENHANCE_YOUR_CALM, last stream 2047, "4096 streams opened beyond the 1024 SETTINGS_MAX_CONCURRENT_STREAMS allows")'

attack front-rapid-reset 300 99 reset --streams 60000 --duration 20s
expect front-rapid-reset "connection closed by the server (GOAWAY ENHANCE_YOUR_CALM"
expect front-rapid-reset "were reset by the client (rapid reset)"

attack front-continuation 150 99 continuation --header-bytes 1GiB --duration 20s
expect front-continuation 'connection closed by the server (GOAWAY ENHANCE_YOUR_CALM, last stream 0, "a header block of more than 65536 bytes")'

attack front-overload 250 99 flood --connections 2 --per-connection 8000 --duration 5s \
  --path /aurigraph.transaction.v1.TransactionService/GetTransaction
expect front-overload "2 connections x 1024 streams in flight"

attack front-flood 250 99 flood --connections 16 --per-connection 1000 --duration 5s \
  --path /aurigraph.transaction.v1.TransactionService/GetTransaction
expect front-flood "x RST_STREAM REFUSED_STREAM"

metrics_hold 'value("aurigraph_refserver_connections_closed_total{reason=\"stream_limit\"}") >= 1 and value("aurigraph_refserver_connections_closed_total{reason=\"stream_resets\"}") >= 1' \
  "the front closed the connections abusing their streams"
metrics_hold 'value("aurigraph_refserver_streams_refused_total{reason=\"stream_limit\"}") >= 1024 and value("aurigraph_refserver_streams_refused_total{reason=\"overload\"}") >= 1' \
  "the front refused the streams beyond a connection's limit, and beyond a connection's share"

[[ $failed -eq 0 ]]

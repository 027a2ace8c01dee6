#!/usr/bin/env bash
# End-to-end: one run split across generator processes against a reference
# server. One process and three (--local-workers) at the same rate send exactly
# the same number of requests, which the server's own counters confirm; the
# same scenario split by --start-at and by a coordinator whose workers take
# their index from JOB_COMPLETION_INDEX (as a Kubernetes Indexed Job starts
# them; Poisson arrivals) merges into the single process's count; a barrier
# that times out, and a process killed mid-run (incomplete, exit 4, its data
# kept); bad splits are refused with one line.
set -u
LOADGEN=$1
REFSERVER=$2
source "$(dirname "$0")/common.sh"
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
check() {  # description, command...
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

start_server TARGET server --metrics-listen 127.0.0.1:0
[[ -n $TARGET ]] || { echo "FAIL reference server did not start"; exit 1; }
for _ in $(seq 50); do grep -q "^metrics on " "$WORK/server.out" && break; sleep 0.1; done
METRICS=$(awk '/^metrics on /{print $3}' "$WORK/server.out")

# SubmitTransaction calls the server has handled so far, by its own count.
handled() {
  curl -s "$METRICS" | awk '/^grpc_server_handled_total\{.*grpc_method="SubmitTransaction"/ {n += $2} END {print n + 0}'
}

cat >"$WORK/split.yaml" <<'YAML'
name: split
duration: 3s
warmup: 500ms
workers: 2
load: {model: open, rate: 600}
seed: 5
operations:
  - name: submit
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    deadline: 5s
    request:
      id: "sp-${run}-${seq}"
      sender: a
      receiver: b
      amount: 1
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
gates:
  - "p99 < 2s"
  - "error_ratio < 1%"
  - "rate >= 100000"
YAML

# result.json's generator.sent, measured requests, gate verdicts and per-process sends.
describe() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
gates = ",".join(str(g["passed"]) for g in r["gates"])
workers = " ".join(str(w["sent"]) for w in r.get("workers", []))
print(r["generator"]["sent"], r["total"]["ok"], gates, r.get("complete", True), workers)
PY
}

# split_runs: the scenario in one process, then in three; the checks below
# compare them. Whether every send went out in time depends on the machine
# (a CI run sent 1797 of 1800), so the pair runs under until_quiet.
split_runs() {
  local before
  rm -rf "$WORK/one" "$WORK/three"
  before=$(handled)
  "$LOADGEN" run "$WORK/split.yaml" --target "$TARGET" --out "$WORK/one" --no-progress >"$WORK/one.out" 2>&1
  code_one=$?
  one_handled=$(($(handled) - before))
  read -r one_sent one_ok one_gates _ <<<"$(describe "$WORK/one/result.json")"
  before=$(handled)
  "$LOADGEN" run "$WORK/split.yaml" --target "$TARGET" --local-workers 3 --out "$WORK/three" \
    --no-progress >"$WORK/three.out" 2>&1
  code_three=$?
  three_handled=$(($(handled) - before))
  read -r three_sent three_ok three_gates three_complete w0 w1 w2 <<<"$(describe "$WORK/three/result.json")"
  [[ $one_sent == 1800 && $one_handled == 1800 && $three_sent == 1800 && $three_handled == 1800 ]]
}
until_quiet "one and three processes" split_runs
if [[ $? -ne $NOT_JUDGED ]]; then
  check "one process: 1800 sent (600/s for 3 s), as the server counted ($one_handled)" \
    test "$one_sent" = 1800 -a "$one_handled" = 1800
  check "three processes: the same 1800 sent, as the server counted ($three_handled)" \
    test "$three_sent" = 1800 -a "$three_handled" = 1800
  check "three processes: each sent its third ($w0 $w1 $w2)" \
    test "$w0" = 600 -a "$w1" = 600 -a "$w2" = 600
  check "the same gate verdicts ($one_gates / $three_gates) and exit code ($code_one / $code_three)" \
    test "$one_gates" = "$three_gates" -a "$code_one" = 1 -a "$code_three" = 1
  check "three processes: the measured requests within 1% of one process's ($one_ok / $three_ok)" \
    python3 -c "import sys; a, b = map(int, sys.argv[1:]); sys.exit(abs(a - b) > a / 100)" "$one_ok" "$three_ok"
  check "the summary names each process and the merged result" \
    grep -q "process 2 (.*): sent 600" "$WORK/three.out"
  check "the merged run's directory is a run directory: report reads it" \
    bash -c '"$0" report "$1/three" --out "$1/three-report" >/dev/null && [[ -s $1/three-report/report.html ]]' \
    "$LOADGEN" "$WORK"
  check "report and compare read the merged run's directory as one run, not its processes'" \
    bash -c 'grep -c "<testsuite " "$1/three-report/junit.xml" | grep -qx 1 &&
      "$0" compare "$1/one" "$1/three" --out "$1/cmp" >/dev/null; [[ $? -le 1 ]] && grep -q "1 vs 1" "$1/cmp/compare.md"' \
    "$LOADGEN" "$WORK"
  # Merging again, by hand, gives the same result.
  "$LOADGEN" merge "$WORK"/three/worker-* --out "$WORK/again" >/dev/null 2>&1
  check "merge of the processes' directories gives the same figures" \
    test "$(describe "$WORK/again/result.json")" = "$(describe "$WORK/three/result.json")"
fi

# As a Kubernetes Indexed Job starts them: JOB_COMPLETION_INDEX, one --start-at.
# Poisson arrivals: the processes walk one seeded process, so their sends add
# up to the single process's exactly.
# Three processes that wake at the same instant on 2 cores: a lag bound of 50 ms
# (10 ms by default), so a stall of the shared machine does not fail the run.
poisson=(--set load.arrival=poisson --set 'gates=["p99 < 2s"]' --set max_generator_lag=50ms)
# poisson_runs: one seeded Poisson process, the same split as an Indexed Job
# and as a coordinated run; their sends add up only when every send went out in
# time, so the three run under until_quiet.
poisson_runs() {
  local k coordinator
  rm -rf "$WORK/p1" "$WORK/job" "$WORK/job-merged" "$WORK/coord" "$WORK/coord-local"
  "$LOADGEN" run "$WORK/split.yaml" --target "$TARGET" "${poisson[@]}" --out "$WORK/p1" \
    --no-progress >/dev/null 2>&1
  start=$(python3 -c 'import time; print(f"{time.time() + 2.5:.3f}")')
  for k in 0 1 2; do
    JOB_COMPLETION_INDEX=$k "$LOADGEN" run "$WORK/split.yaml" --target "$TARGET" "${poisson[@]}" \
      --workers 3 --start-at "$start" --out "$WORK/job/$k" --no-progress >"$WORK/job-$k.out" 2>&1 &
    JOBS[$k]=$!
  done
  job_codes=""
  for k in 0 1 2; do
    wait "${JOBS[$k]}"
    job_codes+="$? "
  done
  "$LOADGEN" merge "$WORK/job/0" "$WORK/job/1" "$WORK/job/2" --out "$WORK/job-merged" \
    >"$WORK/job-merged.out" 2>&1
  merge_code=$?
  read -r p1_sent _ <<<"$(describe "$WORK/p1/result.json")"
  read -r job_sent _ <<<"$(describe "$WORK/job-merged/result.json")"
  # A coordinated run, as the Kubernetes manifests start it: a coordinator, and
  # workers that take their index from JOB_COMPLETION_INDEX and everything else
  # from it. Their sends add up to the single process's exactly; the coordinator
  # holds every worker's logs (streamed to it) and merges them.
  "$LOADGEN" coordinate "$WORK/split.yaml" "${poisson[@]}" --target "$TARGET" --workers 3 \
    --listen 127.0.0.1:0 --start-delay 1s --barrier-timeout 60s --out "$WORK/coord" >"$WORK/coord.out" 2>&1 &
  coordinator=$!
  PIDS+=($coordinator)
  for _ in $(seq 50); do grep -q "listening on" "$WORK/coord.out" && break; sleep 0.1; done
  ADDRESS=$(awk '/listening on/{print $4}' "$WORK/coord.out")
  for k in 0 1 2; do
    JOB_COMPLETION_INDEX=$k "$LOADGEN" work --coordinator "$ADDRESS" --out "$WORK/coord-local/$k" \
      --no-progress >"$WORK/work-$k.out" 2>&1 &
    PIDS+=($!)
  done
  wait "$coordinator"
  coord_code=$?
  read -r coord_sent _ _ coord_complete w0 w1 w2 <<<"$(describe "$WORK/coord/result.json")"
  [[ $merge_code == 0 && $p1_sent == "$job_sent" && $coord_code == 0 && $p1_sent == "$coord_sent" ]]
}
until_quiet "Poisson split as a job and coordinated" poisson_runs
if [[ $? -ne $NOT_JUDGED ]]; then
  check "a process of a split run is judged against its share of the target (200/s of 600/s)" \
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2])); sys.exit(not (r["target_rate"] == 200 and m["target_rate"] == 600))' \
    "$WORK/job/1/result.json" "$WORK/job-merged/result.json"
  check "--start-at and JOB_COMPLETION_INDEX (exit codes $job_codes, merge $merge_code): Poisson sends add up to one process's ($p1_sent = $job_sent)" \
    test "$merge_code" = 0 -a "$p1_sent" = "$job_sent" -a "$p1_sent" -gt 1500
  [[ $merge_code == 0 ]] || tail -n 5 "$WORK"/job-?.out "$WORK/job-merged.out"
  check "coordinated (exit $coord_code): Poisson sends add up to one process's ($p1_sent = $coord_sent; $w0 $w1 $w2)" \
    test "$coord_code" = 0 -a "$p1_sent" = "$coord_sent" -a "$coord_complete" = True
  check "coordinated: merged progress while it ran, and each worker's clock offset" \
    bash -c 'grep -q "workers 3/3 live" "$0" && grep -q "process 2 .*clock offset .*us +/- " "$0"' "$WORK/coord.out"
  check "coordinated: the logs the coordinator gathered equal each worker's own" \
    bash -c 'for k in 0 1 2; do cmp -s "$0/coord/worker-$k/latency.hlog" "$0/coord-local/$k/latency.hlog" || exit 1; done' "$WORK"
fi

# Not every worker arrives: the barrier times out, exit 5 for the coordinator and the worker.
"$LOADGEN" coordinate "$WORK/split.yaml" --target "$TARGET" --workers 2 --listen 127.0.0.1:0 \
  --barrier-timeout 2s --out "$WORK/barrier" >"$WORK/barrier.out" 2>"$WORK/barrier.err" &
coordinator=$!
PIDS+=($coordinator)
for _ in $(seq 50); do grep -q "listening on" "$WORK/barrier.out" && break; sleep 0.1; done
ADDRESS=$(awk '/listening on/{print $4}' "$WORK/barrier.out")
"$LOADGEN" work --coordinator "$ADDRESS" --out "$WORK/barrier-0" --no-progress >"$WORK/barrier-work.out" 2>&1
worker_code=$?
wait "$coordinator"
code=$?
check "a barrier that times out: exit 5 for both ($code, $worker_code), saying who arrived" \
  bash -c '[[ $0 == 5 && $1 == 5 ]] && grep -q "1 of 2 workers arrived (missing: 1)" "$2"' \
  "$code" "$worker_code" "$WORK/barrier.err"

# A worker killed mid-run: the coordinator notices, the run is incomplete (exit 4).
sed 's/duration: 3s/duration: 6s/' "$WORK/split.yaml" >"$WORK/long.yaml"
"$LOADGEN" coordinate "$WORK/long.yaml" --target "$TARGET" --workers 2 --listen 127.0.0.1:0 \
  --start-delay 1s --out "$WORK/coord-killed" >"$WORK/coord-killed.out" 2>&1 &
coordinator=$!
PIDS+=($coordinator)
for _ in $(seq 50); do grep -q "listening on" "$WORK/coord-killed.out" && break; sleep 0.1; done
ADDRESS=$(awk '/listening on/{print $4}' "$WORK/coord-killed.out")
"$LOADGEN" work --coordinator "$ADDRESS" --worker-index 0 --out "$WORK/ck-0" --no-progress >/dev/null 2>&1 &
PIDS+=($!)
"$LOADGEN" work --coordinator "$ADDRESS" --worker-index 1 --out "$WORK/ck-1" --no-progress >/dev/null 2>&1 &
victim=$!
PIDS+=($victim)
for _ in $(seq 100); do
  [[ -s $WORK/ck-1/intervals.jsonl ]] && [[ $(wc -l <"$WORK/ck-1/intervals.jsonl") -ge 4 ]] && break
  sleep 0.1
done
{ kill -9 "$victim" && wait "$victim"; } 2>/dev/null
wait "$coordinator"
code=$?
check "a worker killed under a coordinator: exit 4, the worker named with where it stopped" \
  bash -c '[[ $0 == 4 ]] && grep -q "worker 1 .* stopped sending after" "$1" && grep -q "process 1 .*STOPPED at" "$1"' \
  "$code" "$WORK/coord-killed.out"

# A process killed mid-run: the run is incomplete (exit 4), what it logged is kept.
"$LOADGEN" run "$WORK/long.yaml" --target "$TARGET" --local-workers 2 --out "$WORK/killed" \
  >"$WORK/killed.out" 2>&1 &
parent=$!
PIDS+=($parent)
for _ in $(seq 100); do
  [[ -s $WORK/killed/worker-1/intervals.jsonl ]] && [[ $(wc -l <"$WORK/killed/worker-1/intervals.jsonl") -ge 4 ]] && break
  sleep 0.1
done
pkill -9 -f -- "--worker-index 1 .*--out $WORK/killed/worker-1"
wait "$parent"
code=$?
check "a killed process: exit 4 (incomplete)" test "$code" = 4
check "a killed process: named in the summary with where it stopped" \
  grep -q "process 1 .*STOPPED at" "$WORK/killed.out"
python3 - "$WORK/killed/result.json" <<'PY' && ok "a killed process: its intervals up to the kill kept, the other process's whole" || fail "killed-process result"
import json, sys
r = json.load(open(sys.argv[1]))
w = {x["index"]: x for x in r["workers"]}
assert r["complete"] is False and r["verdict"] == "fail", r["complete"]
# The other process's whole run: 1800 sends, less a few a stalled machine may
# leave unsent behind schedule; cut at the kill it would hold at most 1200.
assert w[0]["stopped_at_seconds"] == -1 and 1700 <= w[0]["sent"] <= 1800, w[0]
assert 1 <= w[1]["stopped_at_seconds"] < 6 and 300 <= w[1]["sent"] < 1800, w[1]
assert r["generator"]["sent"] == w[0]["sent"] + w[1]["sent"], r["generator"]["sent"]
PY

# Closed loop with fewer slots than workers, and a request budget: a process
# with no slot sends nothing, and the budget goes to those with one.
sed '/^duration:/d' "$WORK/split.yaml" >"$WORK/budget.yaml"
before=$(handled)
"$LOADGEN" run "$WORK/budget.yaml" --target "$TARGET" --local-workers 3 --no-progress \
  --set warmup=0s --set requests=300 --set 'load={model: closed, concurrency: 2}' \
  --set 'gates=["p99 < 2s"]' --out "$WORK/scarce" >"$WORK/scarce.out" 2>&1
code=$?
scarce_handled=$(($(handled) - before))
read -r scarce_sent _ <<<"$(describe "$WORK/scarce/result.json" 2>/dev/null)"
check "closed loop, 2 slots over 3 processes, 300 requests: all sent (exit $code, sent $scarce_sent, server $scarce_handled)" \
  test "$code" = 0 -a "$scarce_sent" = 300 -a "$scarce_handled" = 300

# A process waiting for its start ends at Ctrl-C (SIGINT), at once.
later=$(python3 -c 'import time; print(f"{time.time() + 3600:.3f}")')
"$LOADGEN" run "$WORK/split.yaml" --target "$TARGET" --workers 2 --worker-index 0 --start-at "$later" \
  --no-progress --out "$WORK/waiting" >/dev/null 2>"$WORK/waiting.err" &
waiting=$!
PIDS+=($waiting)
sleep 1
kill -INT "$waiting"
for _ in $(seq 30); do kill -0 "$waiting" 2>/dev/null || break; sleep 0.1; done
wait "$waiting"
code=$?
check "a process waiting an hour for its start stops at SIGINT (exit $code)" \
  bash -c '[[ $0 == 3 ]] && grep -q "stopped before the run.s start" "$1"' "$code" "$WORK/waiting.err"

# Bad splits: one line each, exit 2 (3 when the start has passed).
expect_error() {  # description, expected code, expected text, command...
  local what=$1 want=$2 text=$3
  shift 3
  "$@" >"$WORK/err.out" 2>"$WORK/err.err"
  local code=$?
  if [[ $code == "$want" && $(wc -l <"$WORK/err.err") == 1 ]] && grep -q -- "$text" "$WORK/err.err"; then
    ok "$what"
  else
    fail "$what (exit $code: $(head -c 300 "$WORK/err.err"))"
  fi
}
run_split=("$LOADGEN" run "$WORK/split.yaml" --target "$TARGET" --no-progress --out "$WORK/bad")
expect_error "--workers without --start-at" 2 "needs --start-at" "${run_split[@]}" --workers 2 --worker-index 0
expect_error "--worker-index out of range" 2 "not within 0 to 1" "${run_split[@]}" --workers 2 --worker-index 2 --start-at "$start"
expect_error "--workers without an index" 2 "needs --worker-index" env -u JOB_COMPLETION_INDEX "${run_split[@]}" --workers 2 --start-at "$start"
expect_error "a start time already past" 3 "start time passed" "${run_split[@]}" --start-at 1000000000
expect_error "merge of a missing process" 2 "missing: 1" "$LOADGEN" merge "$WORK/job/0" "$WORK/job/2" --out "$WORK/m"
expect_error "merge of two runs" 2 "another scenario" "$LOADGEN" merge "$WORK/job/0" "$WORK/three/worker-1" "$WORK/job/2" --out "$WORK/m"
expect_error "merge into a merged directory" 2 "is one of the runs merged" "$LOADGEN" merge "$WORK/job/0" "$WORK/job/1" "$WORK/job/2" --out "$WORK/job/1"
expect_error "--local-workers with --metrics-listen" 2 "not with --metrics-listen" "${run_split[@]}" --local-workers 2 --metrics-listen 127.0.0.1:0
printf 'name: hooks\nduration: 1s\nwebhook_sink: {events: [APPROVAL_CREATED]}\noperations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]\n' >"$WORK/hooks.yaml"
expect_error "a scenario with webhook_sink is not split" 2 "webhook_sink: cannot be split" "$LOADGEN" run "$WORK/hooks.yaml" --target "$TARGET" --local-workers 2 --out "$WORK/bad"
expect_error "work --set: the scenario is the coordinator's" 2 "give --set to coordinate" "$LOADGEN" work --coordinator 127.0.0.1:1 --set duration=1s

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

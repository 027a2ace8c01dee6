#!/usr/bin/env bash
# End-to-end: capacity searches against reference servers whose capacity is
# known by construction (--service-slots N with a fixed service time: N / time
# calls per second, load above it queues without bound), then their report in
# headless Chromium and their comparison; a generator that cannot keep up, a
# spent budget, a stopped search and bad input.
set -u
LOADGEN=$1
REFSERVER=$2
CHROMIUM=${CHROMIUM:-chromium}
source "$(dirname "$0")/common.sh"
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
not_judged=0
# judge_quiet STATUS OK_MESSAGE FAIL_MESSAGE [FILES TO SHOW...]: the verdict on a
# check run by until_quiet.
judge_quiet() {
  case $1 in
    0) ok "$2" ;;
    "$NOT_JUDGED") not_judged=$((not_judged + 1)) ;;
    *) fail "$3"; cat "${@:4}" ;;
  esac
  return "$1"
}

# 4 slots of 5 ms: 800 calls/s. 2 slots: 400/s, a release that lost half its capacity.
start_server FAST fast --latency fixed:5ms --service-slots 4
start_server SLOW slow --latency fixed:5ms --service-slots 2
[[ -n $FAST && -n $SLOW ]] || { echo "FAIL reference servers did not start"; exit 1; }
# The generator's lag bound is widened from 10 ms: CI's shared 2-core machines
# stall the loadgen for 10-25 ms at times (measured: send-lag p99 16-26 ms in
# steps of a CI run whose latency p99 at 125/s was 12 ms against 6.5 ms here),
# which would end the search as generator-limited; the SLO still sees the lag.
cat >"$WORK/health.yaml" <<YAML
name: health
duration: 1s
load: {rate: 100}
max_generator_lag: 30ms
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
YAML
# Above the capacity the backlog grows by (rate - capacity) per second, so 2% over
# it the last calls of a 2.5 s step wait about 50 ms: the SLO breaks within 2%.
search() {  # name, target, min rate, extra flags...
  local name=$1 target=$2 min=$3
  shift 3
  "$LOADGEN" capacity "$WORK/health.yaml" --target "$target" --slo 'p99 < 40ms' \
    --min-rate "$min" --step-duration 2s --step-warmup 500ms --out "$WORK/$name" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err"
}

# check_answer NAME STATUS [CAPACITY LOW HIGH]: capacity.json's answer, and every step's gates.
check_answer() {
  python3 - "$WORK/$1/capacity.json" "${@:2}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["answer"]
want = sys.argv[2]
assert r["schema"] == "aurigraph-loadbench/capacity" and r["finished"], r
assert a["status"] == want, (a, want)
assert a["steps"] == len(r["steps"]), a
for s in r["steps"]:
    # The SLO, and the bound on errors the search adds when none is given.
    assert [g["expression"] for g in s["result"]["gates"]] == ["p99 < 40ms", "error_ratio < 1%"], s["result"]["gates"]
    assert s["result"]["target_rate"] == s["rate"], (s["result"]["target_rate"], s["rate"])
if len(sys.argv) > 3:
    truth, low, high = map(float, sys.argv[3:6])
    assert low * truth <= a["capacity"] <= high * truth, (a, truth)
    assert a["confirmed"], a
    assert a["capacity"] < a["broke_at"] <= 1.1 * truth, (a, truth)
    held = [s for s in r["steps"] if s["rate"] == a["capacity"]]
    assert len(held) >= 1 + r["plan"]["confirm_runs"] and all(s["held"] for s in held), held
print(f'{a["status"]}: capacity {a["capacity"]}/s, broke at {a["broke_at"]}/s, {a["steps"]} steps in {a["seconds"]:.1f} s')
PY
}

# transient_break NAME TRUTH: whether the search broke, in some runs only, at a
# rate below the TRUTH its target serves by construction. The target's service
# time is fixed, so such a break is the machine stalling the loadgen or the
# server (written to $WORK/saw_stall for until_quiet), not the search's answer.
transient_break() {
  python3 - "$WORK/$1/capacity.json" "$2" "$WORK/saw_stall" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    sys.exit(1)
truth = float(sys.argv[2])
runs = {}
for s in r["steps"]:
    if s["rate"] < 0.97 * truth and s["result"]["generator"]["kept_up"]:
        runs.setdefault(s["rate"], []).append(s)
for rate, steps in sorted(runs.items()):
    broke = [s for s in steps if not s["held"]]
    if broke and len(broke) < len(steps):
        lag = max(s["result"]["generator"]["schedule_lag_us"]["max"] for s in broke) / 1000
        with open(sys.argv[3], "w") as out:
            out.write(f"the search broke at {rate:g}/s in {len(broke)} of {len(steps)} runs, below the "
                      f"{truth:g}/s its target serves (the loadgen's send lag at most {lag:.1f} ms then)")
        sys.exit(0)
sys.exit(1)
PY
}

# The searches judged on latency run again if they failed while the machine
# stalled (until_quiet): a stalled step breaks the SLO below the true capacity.
find_fast() {
  search fast "$FAST" 250 --gate 'capacity >= 500'
  rc=$?
  [[ $rc -eq 0 ]] && check_answer fast found 800 0.85 1.03 && return 0
  transient_break fast 800 && return "$SAW_STALL"
  return 1
}
until_quiet "search fast" find_fast
judge_quiet $? "the search finds a known capacity of 800/s within its precision" \
  "search of a known 800/s capacity (exit $rc)" "$WORK/fast.out" "$WORK/fast.err"
fast_status=$?
find_slow() {
  search slow "$SLOW" 125 --gate 'capacity >= 500'
  rc=$?
  [[ $rc -eq 1 ]] && check_answer slow found 400 0.85 1.03 && grep -q "FAIL capacity >= 500" "$WORK/slow.out" &&
    return 0
  transient_break slow 400 && return "$SAW_STALL"
  return 1
}
until_quiet "search slow" find_slow
judge_quiet $? "a capacity of 400/s is found and fails a gate of 500/s (exit 1)" \
  "search of a known 400/s capacity (exit $rc)" "$WORK/slow.out" "$WORK/slow.err"
slow_status=$?
# The comparison, the report and its drawing read the two searches: judged only
# when the searches were.
((fast_status == 0 && slow_status == 0)) && searched=1 || searched=0
if ((searched)); then

  "$LOADGEN" compare "$WORK/fast" "$WORK/slow/capacity.json" --out "$WORK/cmp" >"$WORK/cmp.out" 2>&1
  rc=$?
  if [[ $rc -eq 1 ]] && grep -qE "REGRESSION: lower capacity: -[3-6][0-9]\.[0-9]% \(interval -[3-6][0-9]\.[0-9]% \.\. -[3-6][0-9]\.[0-9]%\)" "$WORK/cmp.out"; then
    ok "compare calls the halved capacity a regression, with the change's interval (exit 1)"
  else
    fail "compare fast slow (exit $rc)"; cat "$WORK/cmp.out"
  fi
  "$LOADGEN" compare "$WORK/fast" "$WORK/fast" --out "$WORK/same" >"$WORK/same.out" 2>&1
  rc=$?
  if [[ $rc -eq 0 ]] && grep -q "the same capacity" "$WORK/same.out"; then
    ok "compare of a search with itself: the same capacity"
  else
    fail "compare fast fast (exit $rc)"; cat "$WORK/same.out"
  fi
fi

search behind "$FAST" 250 --set max_generator_lag=1us
rc=$?
if [[ $rc -eq 1 ]] && check_answer behind limited_by_generator && grep -q "limited\|generator fell behind" "$WORK/behind.out"; then
  ok "a generator that falls behind ends the search without a capacity (exit 1)"
else
  fail "generator-limited search (exit $rc)"; cat "$WORK/behind.out" "$WORK/behind.err"
fi
spend_budget() {  # a generator stalled behind its schedule ends the search first
  search budget "$FAST" 250 --budget 4s
  rc=$?
  [[ $rc -eq 1 ]] && check_answer budget budget_spent && grep -q "the budget ran out" "$WORK/budget.out"
}
until_quiet "spent budget" spend_budget
judge_quiet $? "a spent budget gives the best rate so far (exit 1)" \
  "budget (exit $rc)" "$WORK/budget.out" "$WORK/budget.err"

# A target that sheds load fast: 4 slots, at most 6 calls held, the rest refused
# at once. Latency stays low above 800/s, but the added error bound breaks.
start_server SHEDDING shedding --latency fixed:5ms --service-slots 4 --max-in-flight 6
find_shedding() {
  search shedding "$SHEDDING" 400 --max-rate 3200 --confirm 0 --precision 10%
  rc=$?
  [[ $rc -eq 0 ]] && check_answer shedding found 800 0.5 1.1 && grep -q "% failed" "$WORK/shedding.out"
}
until_quiet "search shedding" find_shedding
judge_quiet $? "fast failures break a step even with a latency-only SLO" \
  "load-shedding target (exit $rc)" "$WORK/shedding.out" "$WORK/shedding.err"
if [[ $(grep -c "^step 1 " "$WORK/shedding.out") -eq 1 ]]; then ok "each step is printed once"; else fail "a step printed twice"; fi

# A scenario of bidi streams only: the rate paces messages, the SLO names the
# stream, each step's point is its per-message latency; an SLO that measures
# nothing in such a scenario is refused, not read as broken.
cat >"$WORK/stream.yaml" <<YAML
duration: 1s
load: {rate: 100}
operations:
  - name: votes
    rpc: aurigraph.approval.v1.ApprovalService/BidirectionalApprovalStream
    request: {approval_id: "x-\${msg}", validator_id: "v-\${stream}", decision: VALIDATOR_DECISION_APPROVE, correlation_id: "\${msg}"}
    stream: {streams: 2, match: {request: correlation_id, response: correlation_id}, status_field: code}
YAML
search_streams() {
  "$LOADGEN" capacity "$WORK/stream.yaml" --target "$FAST" --set 'gates=[{gate: "p99 < 40ms", operation: votes}]' \
    --min-rate 200 --max-rate 800 --step-duration 1s --step-warmup 500ms --out "$WORK/stream" >"$WORK/stream.out" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] && grep -q "capacity above 800/s" "$WORK/stream.out" &&
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert all(s['result']['operations'][0]['achieved_rate'] > 0.9*s['rate'] for s in r['steps'])" "$WORK/stream/capacity.json"
}
until_quiet "streams-only search" search_streams
judge_quiet $? "a streams-only scenario: messages paced at each rate, judged by the stream's SLO" \
  "streams-only search (exit $rc)" "$WORK/stream.out"
"$LOADGEN" capacity "$WORK/stream.yaml" --target "$FAST" --slo 'p99 < 40ms' --min-rate 200 \
  --step-duration 1s --step-warmup 500ms --out "$WORK/stream-bad" >/dev/null 2>"$WORK/stream-bad.err"
rc=$?
if [[ $rc -eq 2 ]] && grep -q "measured nothing" "$WORK/stream-bad.err" && [[ $(grep -c . "$WORK/stream-bad.err") -eq 1 ]]; then
  ok "an SLO that measures nothing in the scenario ends the search in one line (exit 2)"
else
  fail "unmeasurable SLO (exit $rc)"; cat "$WORK/stream-bad.err"
fi

# Stopped with SIGTERM in its second step: the finished step is kept (a
# generator stalled behind its schedule ends the search before).
stop_search() {
  "$LOADGEN" capacity "$WORK/health.yaml" --target "$FAST" --slo 'p99 < 40ms' --min-rate 250 \
    --step-duration 3s --step-warmup 500ms --out "$WORK/stopped" >"$WORK/stopped.out" 2>"$WORK/stopped.err" &
  local pid=$!
  sleep 5
  kill -TERM $pid
  wait $pid
  rc=$?
  [[ $rc -eq 1 ]] && check_answer stopped stopped &&
    "$LOADGEN" report "$WORK/stopped" --out "$WORK/stopped-report" >/dev/null
}
until_quiet "stopped search" stop_search
judge_quiet $? "a search stopped by SIGTERM keeps its finished steps and is reported" \
  "stopped search (exit $rc)" "$WORK/stopped.out" "$WORK/stopped.err"

# Bad input: one line, exit 2.
printf 'load: {model: closed, concurrency: 4}\nduration: 1s\noperations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]\n' >"$WORK/closed.yaml"
printf '{"schema": "aurigraph-loadbench/capacity", "schema_version": 1, "steps": [' >"$WORK/cut.json"
printf 'duration: 1s\nload: {rate: 10}\noperations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]\ngates: [{gate: "p99 < 1s", operation: nope}]\n' >"$WORK/opgate.yaml"
bad() {  # name, fragment, command...
  local name=$1 fragment=$2
  shift 2
  "$@" >/dev/null 2>"$WORK/bad.err"
  local rc=$?
  if [[ $rc -eq 2 && $(grep -c . "$WORK/bad.err") -eq 1 ]] && grep -qF -- "$fragment" "$WORK/bad.err"; then
    ok "$name"
  else
    fail "$name: exit $rc"; cat "$WORK/bad.err"
  fi
}
bad "a closed-loop scenario is refused" "must run open loop" \
  "$LOADGEN" capacity "$WORK/closed.yaml" --target "$FAST" --slo 'p99 < 1s' --out "$WORK/x"
bad "no SLO is refused" "no SLO" "$LOADGEN" capacity "$WORK/health.yaml" --target "$FAST" --out "$WORK/x"
bad "a bad SLO is refused" "--slo" "$LOADGEN" capacity "$WORK/health.yaml" --slo 'p99 <' --out "$WORK/x"
bad "a bad capacity gate is refused" "capacity OP RATE" \
  "$LOADGEN" capacity "$WORK/health.yaml" --slo 'p99 < 1s' --gate 'rate > 5' --out "$WORK/x"
bad "a budget shorter than one step is refused" "shorter than one step" \
  "$LOADGEN" capacity "$WORK/health.yaml" --slo 'p99 < 1s' --budget 1s --out "$WORK/x"
bad "the rate is the search's to set" "the search sets it for each step" \
  "$LOADGEN" capacity "$WORK/health.yaml" --slo 'p99 < 1s' --set load.rate=5 --out "$WORK/x"
bad "an SLO on an unknown operation is refused before any step" "unknown operation 'nope'" \
  "$LOADGEN" capacity "$WORK/opgate.yaml" --target "$FAST" --out "$WORK/fast"
bad "an impossible precision is refused" "--precision" \
  "$LOADGEN" capacity "$WORK/health.yaml" --slo 'p99 < 1s' --precision 0% --out "$WORK/x"
bad "a cut capacity file is refused by report" "not valid JSON" \
  "$LOADGEN" report "$WORK/cut.json" --out "$WORK/x"
bad "a capacity search compares only with another" "compares only with another" \
  "$LOADGEN" compare "$WORK/fast" "$WORK/stopped/capacity.json.missing" --out "$WORK/x"

if ((searched)) && ! check_answer fast found 800 0.85 1.03 >/dev/null; then
  fail "capacity.json overwritten"
elif ((searched)); then
  ok "a refused search leaves the earlier capacity.json alone"
fi
# A target that cannot be reached: exit 3, one line, no file.
"$LOADGEN" capacity "$WORK/health.yaml" --target 127.0.0.1:1 --slo 'p99 < 1s' --out "$WORK/down" >/dev/null 2>"$WORK/down.err"
rc=$?
if [[ $rc -eq 3 && $(grep -c . "$WORK/down.err") -eq 1 && ! -e $WORK/down/capacity.json ]]; then
  ok "an unreachable target: one line, exit 3, no capacity.json"
else
  fail "unreachable target: exit $rc"; cat "$WORK/down.err"
fi

if ((searched)); then
  # The report and the comparison as a browser renders them.
  "$LOADGEN" report "$WORK/fast/capacity.json" --out "$WORK/report" >/dev/null || fail "report"
  if grep -q 'name="the search found the capacity" time="0"/>' "$WORK/report/junit.xml" &&
     grep -q "^## PASS: capacity of health" "$WORK/report/summary.md"; then
    ok "summary.md and junit.xml give the search's outcome"
  else
    fail "summary.md / junit.xml"; cat "$WORK/report/summary.md" "$WORK/report/junit.xml"
  fi
  if command -v "$CHROMIUM" >/dev/null; then
    for page in report/report.html cmp/compare.html; do
      timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/profile" \
        --dump-dom "file://$WORK/$page" >"$WORK/page.dom" 2>/dev/null
      if python3 - "$WORK/page.dom" "$page" <<'PY'
import re, sys
dom, page = open(sys.argv[1]).read(), sys.argv[2]
root = re.search(r"<html[^>]*>", dom).group(0)
assert "data-script-error" not in root, root
rendered = re.search(r'data-rendered="(\d+)"', root)
series = {name: int(points) for name, points in re.findall(r'data-series="([^"]*)" data-points="(\d+)"', dom)}
if page.startswith("report"):
    assert rendered and rendered.group(1) == "2", rendered
    for name in ("p50", "p99", "p99.9", "SLO p99 &lt; 40ms"):
        assert series.get(name, 0) >= 2, (name, series)
    assert any(n.startswith("capacity ") for n in series), series
    assert sum(1 for n in series if n.startswith("step ")) >= 8, series
else:
    assert rendered and rendered.group(1) == "1", rendered
    assert series.get("baseline p99", 0) >= 4 and series.get("candidate p99", 0) >= 4, series
PY
      then ok "Chromium draws $page"; else fail "Chromium drawing $page"; fi
    done
  else
    fail "$CHROMIUM not installed (scripts/setup installs it)"
  fi
fi

echo "$passed passed, $failed failed, $not_judged not judged (the machine stalled on every attempt)"
((searched)) || echo "not judged: the comparison, the report and Chromium's drawing of them need the two searches"
[[ $failed -eq 0 ]]

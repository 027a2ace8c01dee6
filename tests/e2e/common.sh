# Sourced by the e2e scripts: a scratch directory ($WORK) and the processes
# they start (append their pids to PIDS), both cleaned up on exit.
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Shared CI machines are at times taken from the tests for tens to hundreds of
# milliseconds: a CI run measured a loadgen's own send lag at p99 200-360 ms at
# 200 calls/s (0.1 ms on a quiet machine), and every timed run in those minutes
# failed. until_quiet NAME FUNCTION [ARGS...] runs FUNCTION (status 0: the
# check passed) beside a probe that sleeps 2 ms at a time and notes how late it
# wakes; a check that failed while the probe woke STALL_LIMIT_MS or more late
# (or could not even start in a second) is run again, up to 3 times and a few
# seconds apart. A failure on a quiet machine is returned as it is.
# A host can also slow every core without stopping any (CI measured 16-67%
# steal, a quickstart at 1,272/s of 2,000/s, while the probe woke on time):
# /proc/stat's steal time over the check counts too, from STOLEN_LIMIT_PERCENT.
# When every attempt failed stalled (a later CI run saw 37-64% stolen for its
# whole length), the timing cannot be judged on this machine: until_quiet says
# "not judged NAME" with the figures and returns NOT_JUDGED, which the caller
# counts as neither passed nor failed, as a run whose generator fell behind is
# INVALID rather than failed. Checks that hold on any machine stay outside it.
# A check can see a stall the probe missed (CI once broke a search's step at
# 500/s of a target built to serve 800/s, once in three runs of that rate,
# while the probe woke on time): it returns SAW_STALL, with what it saw in
# $WORK/saw_stall, and is treated as if the probe had seen it.
NOT_JUDGED=77
SAW_STALL=75
STALL_LIMIT_MS=20
STOLEN_LIMIT_PERCENT=10
cpu_ticks() {  # "STEAL TOTAL" of all CPUs so far, from /proc/stat
  awk '/^cpu /{print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat
}
stolen_percent() {  # BEFORE AFTER (each "STEAL TOTAL"): the share stolen between them
  local before=($1) after=($2)
  local total=$((after[1] - before[1]))
  echo $((total > 0 ? 100 * (after[0] - before[0]) / total : 0))
}
until_quiet() {
  local name=$1 attempt status stall
  shift
  for attempt in 1 2 3; do
    : >"$WORK/stall"
    rm -f "$WORK/saw_stall"
    python3 -c '
import sys, time
def note(worst):
    with open(sys.argv[1], "w") as out:
        out.write(str(worst))
worst = 0
note(worst)
while True:
    start = time.monotonic()
    time.sleep(0.002)
    late = round((time.monotonic() - start - 0.002) * 1000)
    if late > worst:
        worst = late
        note(worst)
' "$WORK/stall" &
    local probe=$! began stolen_before stolen
    began=$(date +%s%N)
    stolen_before=$(cpu_ticks)
    "$@"
    status=$?
    stolen=$(stolen_percent "$stolen_before" "$(cpu_ticks)")
    kill "$probe"
    wait "$probe" 2>/dev/null
    stall=$(cat "$WORK/stall")
    # A check shorter than a second may end before the probe starts: no stall seen.
    [[ -z $stall && $(($(date +%s%N) - began)) -lt 1000000000 ]] && stall=0
    if ((status == 0)) || { ((status != SAW_STALL)) && [[ -n $stall ]] &&
      ((stall < STALL_LIMIT_MS && stolen < STOLEN_LIMIT_PERCENT)); }; then
      return $status
    fi
    if ((status == SAW_STALL)); then
      stall="$(cat "$WORK/saw_stall" 2>/dev/null || echo "the check saw a stall"); a 2 ms sleep woke ${stall:-?} ms late"
    elif [[ -n $stall ]]; then
      stall="a 2 ms sleep woke $stall ms late"
    else
      stall="a probe could not start"
    fi
    if ((attempt == 3)); then
      echo "not judged $name: it failed on every attempt while the machine stalled (the last: $stall; the host took $stolen% of its CPU time)"
      return $NOT_JUDGED
    fi
    echo "again $name: it failed while the machine stalled ($stall; the host took $stolen% of its CPU time)"
    sleep $((attempt * 5))
  done
}

# start_server VAR NAME [FLAGS...]: starts a reference server ($REFSERVER) on a
# free loopback port, its output in $WORK/NAME.out, and sets VAR to its
# HOST:PORT. Call it directly, not in $(...): a subshell's PIDS+= would be
# lost and the server would outlive the test.
start_server() {
  local var=$1 name=$2
  shift 2
  # shellcheck disable=SC2086 # REFSERVER_FLAGS: flags for every server a test starts
  "$REFSERVER" --listen 127.0.0.1:0 ${REFSERVER_FLAGS:-} "$@" >"$WORK/$name.out" 2>&1 &
  PIDS+=($!)
  [[ -z ${REFSERVER_FLAGS:-} ]] || echo "     server $name started with $REFSERVER_FLAGS"
  for _ in $(seq 50); do grep -q "^listening on " "$WORK/$name.out" && break; sleep 0.1; done
  printf -v "$var" '%s' "$(awk '/^listening on /{print $3}' "$WORK/$name.out")"
}

# need_node_modules DIR: fails the test unless scripts/setup installed DIR's Node packages.
need_node_modules() {  # DIR [PACKAGE]: the package (default @grpc/grpc-js) is installed there
  if [[ ! -d $1/node_modules/${2:-@grpc/grpc-js} ]]; then
    echo "FAIL $1/node_modules/${2:-@grpc/grpc-js} is missing: run scripts/setup"
    exit 1
  fi
}

# run_node_checks SCRIPT ADDR [ARGS...]: runs a Node client of tests/e2e/node ($NODE_DIR,
# with $PROTO_DIR) against ADDR; prints its PASS/FAIL lines, fails the test if it failed.
run_node_checks() {
  if ! timeout 60 node "$NODE_DIR/$1" "$PROTO_DIR" "${@:2}" >"$WORK/node.out" 2>&1; then
    cat "$WORK/node.out"
    echo "FAIL the Node client's checks"
    exit 1
  fi
  cat "$WORK/node.out"
}

# run_scenario_without_errors FILE ADDR [ARGS...]: runs $SCENARIO_DIR/FILE with
# $LOADGEN against ADDR into $WORK/run; fails the test if a call failed. The
# scenario's latency and rate gates are its figures for a quiet machine: on a
# loaded CI machine the generator itself may lag by tens of milliseconds, so
# only the error gate is kept, and the generator is allowed a second's lag.
run_scenario_without_errors() {
  local file=$1 addr=$2
  shift 2
  if ! timeout 60 "$LOADGEN" run "$SCENARIO_DIR/$file" --target "$addr" --no-progress \
    --out "$WORK/run" --set 'gates=["error_ratio == 0%"]' --set max_generator_lag=1s "$@" \
    >"$WORK/run.out" 2>&1; then
    cat "$WORK/run.out"
    echo "FAIL $file: a call failed, or the run did not finish"
    exit 1
  fi
}

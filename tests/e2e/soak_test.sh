#!/usr/bin/env bash
# Soak behaviour of the real binaries: a loadgen killed with SIGKILL leaves every
# completed interval readable (and report works on it); SIGTERM drains and
# writes the result; the interval histogram log decodes with an independent
# HdrHistogram decoder to the run's own percentiles; a compressed soak keeps
# the loadgen's and the server's memory flat; an injected server leak is
# flagged while a clean server is not.
set -uo pipefail
LOADGEN=$1
REFSERVER=$2
SCENARIOS=$3
source "$(dirname "$0")/common.sh"
failed=0
fail() { echo "FAIL $*"; failed=$((failed + 1)); }


# An independent reader of HdrHistogram interval logs (V2 compressed encoding).
cat >"$WORK/hlog.py" <<'PY'
import base64, math, struct, sys, zlib

def decode(text):
    raw = base64.b64decode(text)
    cookie, length = struct.unpack(">ii", raw[:8])
    assert cookie & ~0xF0 == 0x1C849304, hex(cookie)
    body = zlib.decompress(raw[8:8 + length])
    inner, payload, offset, digits, lowest, highest = struct.unpack(">iiiiqq", body[:32])
    assert inner & ~0xF0 == 0x1C849303, hex(inner)
    counts, i, data = {}, 0, body[40:40 + payload]
    pos = 0
    while pos < len(data):
        value, shift = 0, 0
        while True:
            byte = data[pos]; pos += 1
            value |= (byte & 0x7F) << shift; shift += 7
            if byte < 0x80 or shift >= 63:
                if shift >= 63 and byte >= 0x80:
                    value |= data[pos] << 56; pos += 1
                break
        value = (value >> 1) ^ -(value & 1)  # ZigZag
        if value < 0:
            i += -value
        else:
            if value:
                counts[i] = counts.get(i, 0) + value
            i += 1
    return counts, digits, lowest

def layout(digits, lowest):
    magnitude = math.ceil(math.log2(2 * 10 ** digits))
    return magnitude - 1, int(math.floor(math.log2(lowest)))

def highest_value(index, half_magnitude, unit):
    half = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub = (index & (half - 1)) + half
    if bucket < 0:
        sub -= half
        bucket = 0
    return (sub << (bucket + unit)) + (1 << (bucket + unit)) - 1

def percentile(counts, digits, lowest, p):
    half_magnitude, unit = layout(digits, lowest)
    total = sum(counts.values())
    target = max(1, math.ceil(p / 100 * total - 1e-9))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= target:
            return highest_value(index, half_magnitude, unit)

def read(path):
    """{tag: merged counts}, (digits, lowest), intervals per tag; header checked."""
    lines = open(path).read().splitlines()
    assert lines[0] == "#[Histogram log format version 1.3]", lines[0]
    assert lines[1].startswith("#[StartTime: "), lines[1]
    merged, shape, intervals = {}, None, {}
    for line in lines:
        if not line.startswith("Tag="):
            continue
        tag, start, length, peak, text = line[4:].split(",")
        float(start); float(length); float(peak)
        counts, digits, lowest = decode(text)
        shape = (digits, lowest)
        into = merged.setdefault(tag, {})
        for i, c in counts.items():
            into[i] = into.get(i, 0) + c
        intervals[tag] = intervals.get(tag, 0) + 1
    return merged, shape, intervals
PY

start_server SERVER clean --approval-retention 5s --max-stored-transactions 2000
[[ -n $SERVER ]] || { echo "FAIL reference server did not start"; exit 1; }

# 1. SIGKILL in the middle of a run.
"$LOADGEN" run "$SCENARIOS/quickstart.yaml" --target "$SERVER" --out "$WORK/killed" \
  --set duration=60s --set warmup=1s --no-progress >/dev/null 2>&1 &
victim=$!
sleep 6.5
kill -KILL "$victim"
wait "$victim" 2>/dev/null
[[ ! -f $WORK/killed/result.json ]] || fail "a killed run cannot have written result.json"
python3 - "$WORK/killed" "$WORK/hlog.py" <<'PY' || fail "interval logs after SIGKILL"
import json, sys
sys.path.insert(0, sys.argv[2].rsplit("/", 1)[0])
import hlog
lines = open(sys.argv[1] + "/intervals.jsonl").read().splitlines()
head, points = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
assert head["schema"] == "aurigraph-loadbench/intervals"
assert len(points) >= 4, f"only {len(points)} intervals after 6.5 s"
assert [p["offset_seconds"] for p in points] == list(range(len(points)))
merged, shape, intervals = hlog.read(sys.argv[1] + "/latency.hlog")
for i, op in enumerate(head["operations"]):
    logged = sum(p["operations"][i]["timed"] for p in points)
    decoded = sum(merged[op["tag"]].values())
    # The histogram log may hold one interval more than the JSON log (written first).
    assert decoded >= logged, (op["name"], decoded, logged)
    assert intervals[op["tag"]] in (len(points), len(points) + 1), (op["name"], intervals)
print(f"ok   SIGKILL after 6.5 s: {len(points)} complete intervals readable in both logs")
PY
if "$LOADGEN" report "$WORK/killed" --out "$WORK/killed-report" >/dev/null 2>"$WORK/report.err"; then
  grep -q "Recovered from interval logs" "$WORK/killed-report/summary.md" &&
    grep -q "| submit\\\\_approval | " "$WORK/killed-report/summary.md" &&
    echo "ok   report works on what the killed run left" || fail "report of a killed run"
else
  fail "report of a killed run: $(cat "$WORK/report.err")"
fi

# 2. SIGTERM: stop sending, drain, write the result, exit with the verdict.
"$LOADGEN" run "$SCENARIOS/quickstart.yaml" --target "$SERVER" --out "$WORK/terminated" \
  --set duration=60s --set warmup=0s --no-progress >"$WORK/terminated.out" 2>&1 &
victim=$!
sleep 3
begin=$(date +%s%N)
kill -TERM "$victim"
wait "$victim"
rc=$?
stopped_ms=$((($(date +%s%N) - begin) / 1000000))
python3 - "$WORK/terminated/result.json" "$rc" "$stopped_ms" "$WORK/hlog.py" <<'PY' || fail "SIGTERM"
import json, sys
sys.path.insert(0, sys.argv[4].rsplit("/", 1)[0])
import hlog
r = json.load(open(sys.argv[1]))
rc, stopped_ms = int(sys.argv[2]), int(sys.argv[3])
assert rc == (0 if r["verdict"] == "pass" else 1), (rc, r["verdict"])
assert stopped_ms < 3000, f"took {stopped_ms} ms to stop"
assert 1.5 < r["measured_seconds"] < 4.5, r["measured_seconds"]
assert r["generator"]["cancelled_at_drain"] == 0
assert r["total"]["requests"] == r["generator"]["sent"], "every request sent was drained"
print(f"ok   SIGTERM: stopped in {stopped_ms} ms, drained {r['total']['requests']} requests, "
      f"result written, exit {rc}")
# The interval log, decoded independently, gives the run's own percentiles.
merged, (digits, lowest), _ = hlog.read(sys.argv[1].rsplit("/", 1)[0] + "/latency.hlog")
for op in r["operations"]:
    counts = merged[op["name"]]
    assert sum(counts.values()) == op["requests"], (op["name"], sum(counts.values()), op["requests"])
    for key, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9)):
        want = op["latency_us"]["corrected"][key]
        got = hlog.percentile(counts, digits, lowest, p)
        assert got == want, (op["name"], key, got, want)
print("ok   latency.hlog decoded by an independent reader: counts and p50/p90/p99/p99.9 match result.json")
PY

# 3 and 4. A compressed soak: flat memory against a clean server, a flagged leak against a leaky one.
# Its gates include p99 and its drift: run again if it failed while the machine stalled.
soak() {
  "$LOADGEN" run "$SCENARIOS/soak-smoke.yaml" --target "$SERVER" --out "$WORK/soak" --no-progress \
    >"$WORK/soak.out" 2>&1
  rc=$?
  grep "trends\|gate " "$WORK/soak.out" | sed 's/^/     /'
  return $rc
}
until_quiet "compressed soak" soak
case $? in
  0) echo "ok   compressed soak against a clean server: memory flat, no drift (all gates pass)" ;;
  "$NOT_JUDGED") ;;
  *)
    fail "compressed soak (exit $rc)"
    cat "$WORK/soak.out"
    ;;
esac
start_server LEAKY leaky --approval-retention 5s --max-stored-transactions 2000 --leak 4KiB
"$LOADGEN" run "$SCENARIOS/soak-smoke.yaml" --target "$LEAKY" --out "$WORK/leak" --no-progress \
  --set duration=30s --set warmup=5s >"$WORK/leak.out" 2>&1
rc=$?
grep "gate FAIL  server_rss_slope" "$WORK/leak.out" | sed 's/^/     /'
if [[ $rc -eq 1 ]] && grep -q "gate FAIL  server_rss_slope" "$WORK/leak.out" &&
  grep -q "gate PASS  loadgen_rss_slope" "$WORK/leak.out"; then
  echo "ok   an injected server leak (4 KiB per call) is flagged; the loadgen is not"
else
  fail "leak not flagged (exit $rc)"
  cat "$WORK/leak.out"
fi

[[ $failed -eq 0 ]]

#!/usr/bin/env bash
# Opens generated reports in headless Chromium (Debian's package) and checks
# what the browser actually rendered: no script errors, every chart drawn with
# its expected series, and a screenshot of the page.
set -euo pipefail
LOADGEN=$1
GOLDEN=$2
CHROMIUM=${CHROMIUM:-chromium}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
command -v "$CHROMIUM" >/dev/null || { echo "FAIL $CHROMIUM not installed (scripts/setup installs it)"; exit 1; }

"$LOADGEN" report "$GOLDEN/degraded.result.json" --out "$WORK/report" >/dev/null
"$LOADGEN" report "$GOLDEN/ramp.result.json" --out "$WORK/ramp" >/dev/null
"$LOADGEN" compare "$GOLDEN/quickstart.result.json" "$GOLDEN/degraded.result.json" \
  --out "$WORK/compare" >/dev/null || [[ $? -eq 1 ]]

browse() {  # page, output prefix
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$WORK/profile" --window-size=1200,2400 --dump-dom "file://$1" \
    >"$2.dom" 2>"$2.log"
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$WORK/profile" --window-size=1200,2400 --screenshot="$2.png" "file://$1" \
    >>"$2.log" 2>&1
}
browse "$WORK/report/report.html" "$WORK/report"
browse "$WORK/compare/compare.html" "$WORK/compare"
browse "$WORK/ramp/report.html" "$WORK/ramp"

python3 - "$WORK" <<'PY'
import sys
from html.parser import HTMLParser

class Charts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.root = {}
        self.charts = {}  # id -> list of (series name, points, path d)
        self.x_range = {}  # id -> the x axis' range
        self.stroke = {}  # (chart id, series name) -> colour
        self.current = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.root = a
        if tag == "svg" and "chart" in a.get("class", "").split():
            self.current = a["id"]
            self.charts[self.current] = []
            self.x_range[self.current] = a.get("data-x-range")
        if tag == "path" and "series" in a.get("class", "").split() and self.current:
            self.charts[self.current].append((a.get("data-series"), int(a.get("data-points", 0)), a.get("d", "")))
            self.stroke[(self.current, a.get("data-series"))] = a.get("stroke")
    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None

def load(path):
    parser = Charts()
    parser.feed(open(path).read())
    assert "data-script-error" not in parser.root, f"{path}: script error: {parser.root['data-script-error']}"
    assert "data-rendered" in parser.root, f"{path}: the chart script did not finish"
    assert int(parser.root["data-rendered"]) == len(parser.charts), parser.root
    return parser

def names(series):
    return {name for name, points, d in series if points >= 2 and d.startswith("M") and "L" in d}

work = sys.argv[1]
report = load(f"{work}/report.dom")
charts = report.charts
expected = {
    "run0-spectrum": {"submit_approval", "health"},
    "run0-omission": {"submit_approval corrected", "submit_approval uncorrected", "health corrected", "health uncorrected"},
    "run0-p99-time": {"submit_approval", "health"},
    "run0-p50-time": {"submit_approval", "health"},
    "run0-throughput": {"submit_approval", "health", "target (all unary)", "sent (all unary)"},
    "run0-errors": {"UNAVAILABLE"},
    "run0-lag": {"p99", "max"},
    "run0-memory": {"loadgen", "target"},
}
assert set(charts) == set(expected), f"charts drawn: {sorted(charts)}"
for chart, want in expected.items():
    got = names(charts[chart])
    assert want <= got, f"{chart}: expected series {sorted(want)}, drawn {sorted(got)}"
print(f"ok   report.html: {len(charts)} charts with their series, no script errors")
for op in ("submit_approval", "health"):
    solid, dashed = (report.stroke[("run0-omission", f"{op} {kind}")] for kind in ("corrected", "uncorrected"))
    assert solid == dashed, f"{op}: corrected in {solid}, uncorrected in {dashed}"
over_time = {c: report.x_range[c] for c in charts if c.endswith(("-time", "throughput", "errors", "lag", "memory"))}
assert len(over_time) == 6 and None not in over_time.values(), over_time
assert len(set(over_time.values())) == 1, f"charts over time on different time axes: {over_time}"
print("ok   report.html: an operation keeps its colour dashed; every chart over time spans the same time axis")

# A load profile's target is drawn through its corners (a hold, a ramp, a
# step down), not as one flat line; the achieved rate climbs with it.
ramp = load(f"{work}/ramp.dom")
series = {name: (points, d) for name, points, d in ramp.charts["run0-throughput"]}
points, d = series["target (all unary)"]
assert points == 6, f"target drawn through {points} points, not the profile's 6 corners: {d}"
ys = [float(xy.split(",")[1]) for xy in d.replace("M", " ").replace("L", " ").split()]
assert len(set(ys)) == 3, f"target at {len(set(ys))} heights, expected 200, 1000 and 400: {d}"
print("ok   ramp report: the target follows the load profile's corners")

charts = load(f"{work}/compare.dom").charts
assert len(charts) == 3, sorted(charts)
got = names(charts["compare-0"])
assert {"baseline (all runs)", "candidate (all runs)"} <= got, got
print("ok   compare.html: spectra overlaid per operation")
PY

for shot in report compare; do
  size=$(stat -c %s "$WORK/$shot.png" 2>/dev/null || echo 0)
  [[ $size -gt 20000 ]] || { echo "FAIL $shot screenshot missing or blank ($size bytes)"; cat "$WORK/$shot.log"; exit 1; }
  echo "ok   $shot.png screenshot ($size bytes)"
done

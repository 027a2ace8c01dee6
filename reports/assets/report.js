// Draws the charts of an aurigraph-loadgen report from the JSON embedded in the
// page (id "report-data"). Plain SVG, no libraries and no network: the report
// is one file that opens anywhere. Tables are rendered server-side; this file
// only draws. Each chart is an <svg class="chart"> whose series are
// <path class="series" data-series="NAME">, so tests can check what was drawn.
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#17becf", "#7f7f7f", "#bcbd22"];
  var W = 900, H = 320, M = {left: 72, right: 16, top: 34, bottom: 46};

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    var node = el("text", Object.assign({x: x, y: y}, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  // About `count` round tick values covering [lo, hi].
  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) hi = lo + 1;
    var raw = (hi - lo) / count;
    var magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = magnitude;
    [1, 2, 2.5, 5, 10].some(function (m) { step = m * magnitude; return step >= raw; });
    var ticks = [];
    var v = Math.ceil(lo / step) * step;
    for (; v <= hi + step * 1e-9; v += step) ticks.push(Math.round(v / step) * step);
    if (ticks[ticks.length - 1] < hi) ticks.push(Math.round(v / step) * step);  // room above the top
    return ticks;
  }

  function formatNumber(v) {
    if (v === 0) return "0";
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 100) return v.toFixed(0);
    if (a >= 1) return String(Math.round(v * 100) / 100);
    return String(Math.round(v * 10000) / 10000);
  }

  // The HDR percentile axis: x = log10(1 / (1 - q)), so each "nine" takes equal width.
  var NINES = [[Math.log10(2), "50%"], [1, "90%"], [2, "99%"], [3, "99.9%"], [4, "99.99%"],
               [5, "99.999%"], [6, "99.9999%"]];

  // spec: {id, title, xLabel, yLabel, series: [{name, points: [[x, y]], dashed, color}],
  //        xAxis: "linear" | "percentile", xRange: [lo, hi] (else the data's),
  //        shade: [x0, x1] (warm-up), yMin}
  var markers = [];  // [time (s), name] of the run being drawn

  function chart(container, spec) {
    var series = spec.series.filter(function (s) { return s.points.length > 0; });
    var figure = document.createElement("figure");
    figure.className = "chart-figure";
    container.appendChild(figure);
    var svg = el("svg", {"class": "chart", id: spec.id, viewBox: "0 0 " + W + " " + H,
                         role: "img", "aria-label": spec.title,
                         "data-series-count": String(series.length)}, figure);
    text(svg, M.left, 20, spec.title, {"class": "chart-title"});
    if (series.length === 0) {
      text(svg, W / 2, H / 2, spec.empty || "nothing measured",
           {"class": "chart-empty", "text-anchor": "middle"});
      return svg;
    }
    var xs = [], ys = [];
    series.forEach(function (s) {
      s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); });
    });
    var xLo = Math.min.apply(null, xs), xHi = Math.max.apply(null, xs);
    if (spec.xRange) { xLo = spec.xRange[0]; xHi = spec.xRange[1]; }
    if (spec.xAxis === "percentile") { xLo = Math.log10(2); xHi = Math.max(xHi, 2); }
    if (xHi === xLo) xHi = xLo + 1;
    var yLo = spec.yMin !== undefined ? spec.yMin : Math.min(0, Math.min.apply(null, ys));
    var yTicks = niceTicks(yLo, Math.max.apply(null, ys) * 1.05 || 1, 5);
    var yHi = yTicks[yTicks.length - 1];
    svg.setAttribute("data-x-range", xLo + " " + xHi);
    var pw = W - M.left - M.right, ph = H - M.top - M.bottom;
    function sx(x) { return M.left + (x - xLo) / (xHi - xLo) * pw; }
    function sy(y) { return M.top + ph - (y - yLo) / (yHi - yLo) * ph; }

    var axes = el("g", {"class": "axes"}, svg);
    if (spec.shade && spec.shade[1] > spec.shade[0]) {
      var x0 = sx(Math.max(xLo, spec.shade[0])), x1 = sx(Math.min(xHi, spec.shade[1]));
      el("rect", {x: x0, y: M.top, width: Math.max(0, x1 - x0), height: ph, "class": "warmup"},
         axes);
      text(axes, x0 + 4, M.top + 12, "warm-up", {"class": "warmup-label"});
    }
    yTicks.forEach(function (v) {
      el("line", {x1: M.left, x2: M.left + pw, y1: sy(v), y2: sy(v), "class": "grid"}, axes);
      text(axes, M.left - 6, sy(v) + 4, formatNumber(v), {"text-anchor": "end"});
    });
    var xTicks = spec.xAxis === "percentile"
        ? NINES.filter(function (t) { return t[0] <= xHi + 1e-9; })
        : niceTicks(xLo, xHi, 8).map(function (v) { return [v, formatNumber(v)]; });
    xTicks.forEach(function (t) {
      if (t[0] < xLo - 1e-9) return;
      el("line", {x1: sx(t[0]), x2: sx(t[0]), y1: M.top, y2: M.top + ph, "class": "grid"}, axes);
      text(axes, sx(t[0]), M.top + ph + 16, t[1], {"text-anchor": "middle"});
    });
    if (spec.xRange && markers) {
      markers.forEach(function (m) {
        if (m[0] < xLo || m[0] > xHi) return;
        el("line", {x1: sx(m[0]), x2: sx(m[0]), y1: M.top, y2: M.top + ph, "class": "marker",
                    "data-marker": m[1]}, axes);
        text(axes, sx(m[0]) + 3, M.top + 24, m[1], {"class": "marker-label"});
      });
    }
    el("rect", {x: M.left, y: M.top, width: pw, height: ph, "class": "frame"}, axes);
    text(axes, M.left + pw / 2, H - 8, spec.xLabel, {"text-anchor": "middle", "class": "axis-label"});
    text(axes, 16, M.top + ph / 2, spec.yLabel,
         {"text-anchor": "middle", "class": "axis-label",
          transform: "rotate(-90 16 " + (M.top + ph / 2) + ")"});

    var legend = document.createElement("div");
    legend.className = "legend";
    series.forEach(function (s, i) {
      var color = s.color || COLORS[i % COLORS.length];
      var d = s.points.map(function (p, j) {
        return (j === 0 ? "M" : "L") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1);
      }).join("");
      el("path", {d: d, "class": "series" + (s.dashed ? " dashed" : ""), stroke: color,
                  "data-series": s.name, "data-points": String(s.points.length)}, svg);
      var item = document.createElement("span");
      item.innerHTML = "<i style=\"border-color:" + color + "\"" +
                       (s.dashed ? " class=\"dashed\"" : "") + "></i>";
      item.appendChild(document.createTextNode(s.name));
      legend.appendChild(item);
    });
    figure.appendChild(legend);
    addHover(svg, figure, series, spec, sx, sy, xLo, xHi, pw);
    return svg;
  }

  // A readout of every series' value at the pointer's x.
  function addHover(svg, figure, series, spec, sx, sy, xLo, xHi, pw) {
    var readout = document.createElement("div");
    readout.className = "readout";
    figure.appendChild(readout);
    var cursor = el("line", {y1: M.top, y2: H - M.bottom, "class": "cursor", visibility: "hidden"},
                    svg);
    svg.addEventListener("mousemove", function (event) {
      var box = svg.getBoundingClientRect();
      var x = xLo + ((event.clientX - box.left) * W / box.width - M.left) / pw * (xHi - xLo);
      if (x < xLo || x > xHi) return;
      var parts = [];
      series.forEach(function (s) {
        var best = s.points[0];
        s.points.forEach(function (p) { if (Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p; });
        parts.push(s.name + ": " + formatNumber(best[1]));
      });
      var label = spec.xAxis === "percentile"
          ? (100 * (1 - Math.pow(10, -x))).toPrecision(6) + "%" : formatNumber(x) + " s";
      readout.textContent = label + " | " + parts.join(" | ");
      cursor.setAttribute("x1", sx(x));
      cursor.setAttribute("x2", sx(x));
      cursor.setAttribute("visibility", "visible");
    });
  }

  function msPoints(points) {
    return points.map(function (p) { return [p[0], p[1] / 1000]; });
  }

  // Each operation keeps its colour (its place in `operations`) in every series of it.
  function spectrumSeries(operations, key, dashed, suffix) {
    var series = [];
    operations.forEach(function (op, i) {
      if (!op.spectrum || !op.spectrum[key]) return;
      series.push({name: op.name + (suffix || ""), points: msPoints(op.spectrum[key]),
                   dashed: dashed, color: COLORS[i % COLORS.length]});
    });
    return series;
  }

  function drawRun(run, index) {
    var host = document.getElementById("charts-" + index);
    if (!host) return;
    var t = run.timeline;
    // Scheduled events, drawn on every chart over time.
    markers = t && t.markers ? t.markers : [];
    var prefix = "run" + index + "-";
    chart(host, {id: prefix + "spectrum", title: "Latency by percentile (corrected for coordinated omission)",
                 xAxis: "percentile", xLabel: "percentile", yLabel: "latency (ms)",
                 series: spectrumSeries(run.operations, "corrected", false)});
    var unary = run.operations.filter(function (op) { return op.kind === "unary"; });
    if (unary.length > 0) {
      chart(host, {id: prefix + "omission", title: "Corrected vs uncorrected latency (unary operations)",
                   xAxis: "percentile", xLabel: "percentile", yLabel: "latency (ms)",
                   series: spectrumSeries(unary, "corrected", false, " corrected")
                       .concat(spectrumSeries(unary, "uncorrected", true, " uncorrected"))});
    }
    if (!t || t.offsets.length === 0) return;
    var shade = [0, t.warmup_end];
    // Every chart over time spans the whole run, so their times line up.
    var span = [0, t.end];
    // Intervals without a value (too short, or nothing timed) leave a gap.
    function timeSeries(values, scale) {
      return timeSeriesOf(t, values).map(function (p) { return [p[0], p[1] * scale]; });
    }
    function perOp(field, scale) {
      return run.operations.map(function (op, i) {
        return {name: op.name, points: timeSeries(t.operations[i][field], scale)};
      });
    }
    chart(host, {id: prefix + "p99-time", title: "p99 latency per interval", xLabel: "time since start (s)",
                 yLabel: "p99 latency (ms)", series: perOp("p99", 0.001), shade: shade, xRange: span, yMin: 0});
    chart(host, {id: prefix + "p50-time", title: "p50 latency per interval", xLabel: "time since start (s)",
                 yLabel: "p50 latency (ms)", series: perOp("p50", 0.001), shade: shade, xRange: span, yMin: 0});
    var throughput = perOp("rate", 1);
    if (run.target_rate > 0) {
      // A rate profile is drawn through its corners; a constant rate spans the run.
      var target = run.rate_profile && run.rate_profile.length > 0 ? run.rate_profile
          : [[0, run.target_rate], [t.end, run.target_rate]];
      throughput.push({name: "target (all unary)", dashed: true, color: "#444", points: target});
      throughput.push({name: "sent (all unary)", color: "#999", points: timeSeries(t.sent_rate, 1)});
    }
    chart(host, {id: prefix + "throughput", title: "Throughput per interval (completions, or messages received by streams)",
                 xLabel: "time since start (s)", yLabel: "per second", series: throughput,
                 shade: shade, xRange: span, yMin: 0});
    var codes = Object.keys(t.error_codes).map(function (code) {
      return {name: code, points: timeSeries(t.error_codes[code], 1)};
    });
    chart(host, {id: prefix + "errors", title: "Errors per second by status code (all operations)",
                 xLabel: "time since start (s)", yLabel: "errors per second", series: codes,
                 shade: shade, xRange: span, yMin: 0, empty: "no errors in this run"});
    if (t.sent_rate.some(function (v) { return v > 0; })) {
      chart(host, {id: prefix + "lag", title: "Schedule lag (actual send minus intended send)",
                   xLabel: "time since start (s)", yLabel: "lag (ms)", shade: shade, xRange: span,
                   yMin: 0,
                   series: [{name: "p99", points: timeSeries(t.lag_p99, 0.001)},
                            {name: "max", dashed: true, points: timeSeries(t.lag_max, 0.001)}]});
    }
    drawMemory(host, prefix, t, shade, span);
  }

  function drawMemory(host, prefix, t, shade, span) {
    var series = [{name: "loadgen", points: timeSeriesOf(t, t.loadgen_rss_mb || [])},
                  {name: "target", points: timeSeriesOf(t, t.target_rss_mb || [])}];
    if (series[0].points.length === 0 && series[1].points.length === 0) return;
    chart(host, {id: prefix + "memory", title: "Resident memory (a soak's memory should stay flat)",
                 xLabel: "time since start (s)", yLabel: "RSS (MB)", series: series, shade: shade,
                 xRange: span, yMin: 0});
  }

  function timeSeriesOf(t, values) {
    var points = [];
    values.forEach(function (v, j) { if (v !== null) points.push([t.offsets[j], v]); });
    return points;
  }

  function drawComparison(data) {
    data.operations.forEach(function (op, index) {
      var host = document.getElementById("compare-charts-" + index);
      if (!host) return;
      // Each run's own spectrum shows the run-to-run spread; with one run it is the merged line.
      var series = [];
      if (op.baseline_runs.length > 1) {
        op.baseline_runs.forEach(function (points, i) {
          series.push({name: "baseline run " + (i + 1), points: msPoints(points), color: "#9ecae1"});
        });
      }
      if (op.candidate_runs.length > 1) {
        op.candidate_runs.forEach(function (points, i) {
          series.push({name: "candidate run " + (i + 1), points: msPoints(points), color: "#fcae91"});
        });
      }
      series.push({name: "baseline (all runs)", points: msPoints(op.baseline), color: "#08519c"});
      series.push({name: "candidate (all runs)", points: msPoints(op.candidate), color: "#a50f15"});
      chart(host, {id: "compare-" + index, title: op.name + ": latency by percentile, baseline vs candidate",
                   xAxis: "percentile", xLabel: "percentile", yLabel: "latency (ms)", series: series});
    });
  }

  // A capacity search (or two, compared): latency percentiles against the
  // achieved rate of each step, the latency SLOs as lines, the capacity marked;
  // with one search, each step's percentile spectrum too.
  function drawCapacity(data) {
    var host = document.getElementById("capacity-charts");
    var single = data.curves.length === 1;
    var series = [], xs = [], ys = [];
    data.curves.forEach(function (curve) {
      // One point per rate asked: its runs' mean achieved rate and worst latency.
      var byRate = {};
      curve.steps.filter(function (s) { return s.p50 !== null; }).forEach(function (s) {
        var p = byRate[s.rate] || (byRate[s.rate] = {runs: 0, achieved: 0, p50: 0, p99: 0, p99_9: 0});
        p.runs += 1;
        p.achieved += s.achieved;
        ["p50", "p99", "p99_9"].forEach(function (k) { p[k] = Math.max(p[k], s[k]); });
      });
      var steps = Object.keys(byRate).map(function (rate) {
        var p = byRate[rate];
        p.achieved /= p.runs;
        return p;
      }).sort(function (a, b) { return a.achieved - b.achieved; });
      var prefix = curve.label ? curve.label + " " : "";
      var keys = single ? [["p50", "p50"], ["p99", "p99"], ["p99.9", "p99_9"]] : [["p99", "p99"]];
      keys.forEach(function (k) {
        var points = steps.map(function (s) { return [s.achieved, s[k[1]]]; });
        points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); });
        series.push({name: prefix + k[0], points: points});
      });
    });
    if (xs.length === 0) {
      chart(host, {id: "capacity-curve", title: "latency against throughput", series: [],
                   empty: "no step timed a call"});
      return;
    }
    var xLo = Math.min.apply(null, xs), xHi = Math.max.apply(null, xs);
    var yHi = Math.max.apply(null, ys);
    data.curves[0].slos.forEach(function (slo) {
      series.push({name: "SLO " + slo.name, points: [[xLo, slo.ms], [xHi, slo.ms]], dashed: true,
                   color: "#444"});
    });
    data.curves.forEach(function (curve, i) {
      if (curve.capacity > 0) {
        series.push({name: (curve.label ? curve.label + " " : "") + "capacity " +
                           formatNumber(curve.capacity) + "/s",
                     points: [[curve.capacity, 0], [curve.capacity, yHi]], dashed: true,
                     color: i === 0 ? "#2ca02c" : "#9467bd"});
      }
    });
    chart(host, {id: "capacity-curve", title: "latency against throughput, step by step",
                 xLabel: "achieved rate (requests/s)", yLabel: "latency (ms)", series: series,
                 yMin: 0});
    if (!single) return;
    chart(host, {id: "capacity-spectra", title: "each step's latency by percentile",
                 xAxis: "percentile", xLabel: "percentile", yLabel: "latency (ms)",
                 series: data.curves[0].steps.map(function (s) {
                   return {name: "step " + s.index + ": " + formatNumber(s.rate) + "/s" +
                                 (s.held ? "" : " (broke)"),
                           points: s.spectrum, dashed: !s.held};
                 })});
  }

  function main() {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    if (data.kind === "compare") drawComparison(data);
    else if (data.kind === "capacity") drawCapacity(data);
    else data.runs.forEach(drawRun);
    document.documentElement.setAttribute("data-rendered",
                                          String(document.querySelectorAll("svg.chart").length));
  }

  window.addEventListener("error", function (event) {
    document.documentElement.setAttribute("data-script-error", String(event.message));
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();

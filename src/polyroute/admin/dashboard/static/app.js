// Usage page charts: uPlot over the JSON the server put in #usage-data. The same figures
// are in the table below the charts, so nothing depends on this script.
(function () {
  "use strict";
  var el = document.getElementById("usage-data");
  if (!el || typeof uPlot === "undefined") return;
  var data = JSON.parse(el.textContent);
  if (!data.days.length) return;
  var xs = data.days.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
  var palette = ["#0b5cad", "#c2410c", "#116329", "#7c3aed", "#a40e26", "#0f766e"];
  // one day alone would give uPlot a zero-width x range: keep a day either side
  var xscale = { time: true, range: function (u, lo, hi) { return [lo - 86400, hi + 86400]; } };
  function width(id) { return Math.max(320, document.getElementById(id).clientWidth - 8); }
  var providers = Object.keys(data.cost);
  new uPlot({
    width: width("chart-cost"), height: 220,
    series: [{}].concat(providers.map(function (p, i) {
      return { label: p, stroke: palette[i % palette.length], width: 2,
               points: { size: 8 },
               value: function (u, v) { return v == null ? "-" : "$" + v.toFixed(4); } };
    })),
    scales: { x: xscale },
    axes: [{}, { size: 80, values: function (u, vals) { return vals.map(function (v) { return "$" + v; }); } }],
  }, [xs].concat(providers.map(function (p) { return data.cost[p]; })), document.getElementById("chart-cost"));
  new uPlot({
    width: width("chart-latency"), height: 220,
    scales: { x: xscale },
    series: [{}, { label: "p50 ms", stroke: "#0b5cad", width: 2 }, { label: "p95 ms", stroke: "#c2410c", width: 2 }],
  }, [xs, data.p50, data.p95], document.getElementById("chart-latency"));
})();

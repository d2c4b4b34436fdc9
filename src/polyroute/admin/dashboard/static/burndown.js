// Budgets page burn-down: uPlot over the JSON the server put in #burn-data. The summary
// above the chart says the same in words, so nothing depends on this script.
(function () {
  "use strict";
  var el = document.getElementById("burn-data");
  if (!el || typeof uPlot === "undefined") return;
  var d = JSON.parse(el.textContent);
  var xs = d.days.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
  var usd = function (u, v) { return v == null ? "-" : "$" + v.toFixed(2); };
  var series = [{},
    { label: "spent", stroke: "#0b5cad", width: 2, value: usd },
    { label: "forecast", stroke: "#c2410c", width: 2, dash: [6, 4], value: usd }];
  var data = [xs, d.actual, d.forecast];
  var palette = ["#a40e26", "#7c3aed", "#116329"];
  Object.keys(d.limits).forEach(function (name, i) {
    series.push({ label: "budget " + name, stroke: palette[i % palette.length], width: 1, value: usd });
    data.push(xs.map(function () { return d.limits[name]; }));
  });
  var box = document.getElementById("chart-burn");
  new uPlot({
    width: Math.max(320, box.clientWidth - 8), height: 240, series: series,
    scales: { x: { time: true } },
    axes: [{}, { size: 80, values: function (u, vals) { return vals.map(function (v) { return "$" + v; }); } }],
  }, data, box);
})();

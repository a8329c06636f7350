// Draws the charts described by <canvas class="chart" data-chart='{"type":…,"labels":[…],"flags":[…],"amounts":[…]}'>
// with the locally served Chart.js; marks the current navigation link. No inline scripts (CSP: script-src 'self').
(function () {
  "use strict";
  var palette = ["#0b6bcb", "#e67700", "#2e7d32", "#c62828", "#6a1b9a", "#00838f", "#5f6b7a", "#ad1457", "#827717", "#283593"];
  function draw(canvas) {
    var spec;
    try { spec = JSON.parse(canvas.getAttribute("data-chart")); } catch (e) { return; }
    if (!window.Chart || !spec.labels || !spec.labels.length) { canvas.replaceWith(document.createTextNode("（无数据）")); return; }
    var type = spec.type === "doughnut" ? "doughnut" : spec.type;
    var datasets;
    if (type === "doughnut") {
      datasets = [{ label: "疑点数", data: spec.flags, backgroundColor: ["#c62828", "#e67700", "#5f6b7a"] }];
    } else {
      datasets = [
        { label: "金额(元)", data: spec.amounts, backgroundColor: "#0b6bcb", borderColor: "#0b6bcb", yAxisID: "amount", xAxisID: "x" },
        { label: "疑点数", data: spec.flags, backgroundColor: "#e67700", borderColor: "#e67700", yAxisID: "count", xAxisID: "x", type: "line" }
      ];
    }
    var options = { animation: false, responsive: true, maintainAspectRatio: true, aspectRatio: 2.2, plugins: { legend: { position: "bottom" } } };
    if (type !== "doughnut") {
      if (spec.horizontal) {
        datasets = [{ label: "金额(元)", data: spec.amounts, backgroundColor: palette[0] }];
        options.indexAxis = "y";
      } else {
        options.scales = { amount: { type: "linear", position: "left", beginAtZero: true }, count: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false } } };
      }
    }
    new window.Chart(canvas, { type: type, data: { labels: spec.labels, datasets: datasets }, options: options });
  }
  document.querySelectorAll("canvas.chart").forEach(draw);
  var path = location.pathname;
  var current = path === "/rules/coverage" ? "coverage" : path.indexOf("/rules") === 0 ? "rules" :
    /\/flags/.test(path) ? "flags" : /\/institutions/.test(path) ? "institutions" : path === "/runs" ? "runs" : "dashboard";
  var link = document.querySelector('[data-nav="' + current + '"]');
  if (link) { link.setAttribute("aria-current", "page"); link.style.color = "#fff"; link.style.fontWeight = "700"; }
})();

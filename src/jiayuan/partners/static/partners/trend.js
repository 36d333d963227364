/* 季度评估趋势: a project's total and four dimensions by quarter (ECharts), drawn from the
   page's json_script; the same numbers are in the table under the chart. Names reach the
   chart as data, never as HTML. */
(function () {
  "use strict";

  var COLOURS = ["#c0282d", "#206bc4", "#2fb344", "#f59f00", "#ae3ec9"];

  function draw() {
    var el = document.getElementById("evaluation-trend");
    var source = document.getElementById("evaluation-trend-data");
    if (!el || !source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    // one quarter is one point per line: draw the points (filled) and label them, or the
    // chart shows its axes and nothing else
    var single = data.quarters.length === 1;
    var series = [{ name: "总分", type: "line", data: data.totals, lineStyle: { width: 3 },
                    symbol: "circle", symbolSize: 9, showSymbol: true,
                    label: { show: single, position: "top" } }];
    data.dimensions.forEach(function (d) {
      series.push({ name: d.name, type: "line", data: d.data, lineStyle: { type: "dashed" },
                    symbol: "circle", symbolSize: 6, showSymbol: true });
    });
    chart.setOption({
      animation: false,  // drawn at once: a screenshot or a reader never meets a half chart
      color: COLOURS,
      grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      xAxis: { type: "category", data: data.quarters, axisTick: { show: false },
               axisLabel: { color: "#6b7280", fontSize: 11 } },
      yAxis: { type: "value", min: 0, max: 100, name: "分",
               splitLine: { lineStyle: { color: "#eef0f3" } },
               axisLabel: { color: "#9ca3af", fontSize: 11 } },
      series: series,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

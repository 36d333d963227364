/* 服务概览: the monthly trend of the community services (ECharts), drawn from the
   page's json_script; the same numbers are in the table under the chart. */
(function () {
  "use strict";

  var COLOURS = ["#c0282d", "#e3a3a5", "#206bc4", "#2fb344", "#f59f00", "#ae3ec9"];

  function draw() {
    var el = document.getElementById("services-trend");
    var source = document.getElementById("services-trend-data");
    if (!el || !source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    // counts of things on the left axis, people and hours (larger) on the right
    var right = { participations: true, hours: true, visits: true };
    chart.setOption({
      color: COLOURS,
      grid: { left: 8, right: 8, top: 36, bottom: 4, containLabel: true },
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      xAxis: { type: "category", data: data.months, axisTick: { show: false },
               axisLabel: { color: "#6b7280", fontSize: 11 } },
      yAxis: [
        { type: "value", name: "次/件", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f3" } },
          axisLabel: { color: "#9ca3af", fontSize: 11 } },
        { type: "value", name: "人次/小时", splitLine: { show: false },
          axisLabel: { color: "#9ca3af", fontSize: 11 } }
      ],
      series: data.series.map(function (s) {
        var line = !!right[s.key];
        return {
          name: s.name, type: line ? "line" : "bar", yAxisIndex: line ? 1 : 0,
          data: s.data, smooth: line, barMaxWidth: 18
        };
      }),
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

/* 家园 charts (ECharts): the home page's age structure. */
(function () {
  "use strict";

  function ageChart() {
    var el = document.getElementById("age-chart");
    var source = document.getElementById("age-data");
    if (!el || !source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      grid: { left: 8, right: 8, top: 16, bottom: 4, containLabel: true },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: {
        type: "category",
        data: data.map(function (d) { return d.label; }),
        axisTick: { show: false },
        axisLabel: { color: "#6b7280", fontSize: 11, interval: 0 }
      },
      yAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f3" } },
               axisLabel: { color: "#9ca3af", fontSize: 11 } },
      series: [{
        type: "bar",
        barMaxWidth: 32,
        data: data.map(function (d, i) {
          return { value: d.count, itemStyle: { color: i >= 3 ? "#c0282d" : "#e3a3a5", borderRadius: [4, 4, 0, 0] } };
        }),
        label: { show: true, position: "top", color: "#374151", fontSize: 11 }
      }],
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ageChart);
  } else {
    ageChart();
  }
})();

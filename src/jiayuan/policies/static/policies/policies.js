/* 家园 政策找人: the visit form shows the date only for 已办结 and the failed item only for
   不符合; the dashboard draws its ECharts from the JSON the page carries. */
(function () {
  "use strict";

  function syncVisitForm(form) {
    var checked = form.querySelector("input[name=outcome]:checked");
    var outcome = checked ? checked.value : "";
    form.querySelectorAll(".jy-when").forEach(function (el) {
      el.classList.toggle("is-hidden", el.getAttribute("data-when") !== outcome);
    });
  }

  function initVisitForms(root) {
    (root || document).querySelectorAll(".jy-visit-form").forEach(function (form) {
      if (form.dataset.bound) { syncVisitForm(form); return; }
      form.dataset.bound = "1";
      form.addEventListener("change", function () { syncVisitForm(form); });
      syncVisitForm(form);
    });
  }

  var COLORS = { matched: "#e3a3a5", visited: "#4299e1", granted: "#2fb344", median: "#c0282d" };

  function font() { return getComputedStyle(document.body).fontFamily; }

  function barChart(el, names, series, horizontal, labels) {
    var chart = echarts.init(el, null, { renderer: "svg" });
    var category = { type: "category", data: names, axisTick: { show: false },
                     axisLabel: { color: "#374151", fontSize: 11, interval: 0 } };
    var value = { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f3" } },
                  axisLabel: { color: "#9ca3af", fontSize: 11 } };
    if (horizontal) { category.inverse = true; }
    chart.setOption({
      textStyle: { fontFamily: font() },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: series.map(function (s) { return s.name; }) },
      grid: { left: 8, right: 24, top: 32, bottom: 4, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, barMaxWidth: 18,
                 label: { show: !!labels, position: horizontal ? "right" : "top", fontSize: 11 },
                 itemStyle: { color: s.color, borderRadius: horizontal ? [0, 3, 3, 0] : [3, 3, 0, 0] } };
      })
    });
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  function dashboard() {
    var source = document.getElementById("policy-dashboard-data");
    if (!source || typeof echarts === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var el = document.getElementById("chart-policies");
    if (el) {
      barChart(el, data.policies.names, [
        { name: "匹配", data: data.policies.matched, color: COLORS.matched },
        { name: "已上门", data: data.policies.visited, color: COLORS.visited },
        { name: "已办结", data: data.policies.granted, color: COLORS.granted }
      ], true);
    }
    el = document.getElementById("chart-median");
    if (el && data.median.length) {
      barChart(el, data.median.map(function (d) { return d.name; }), [
        { name: "中位天数", data: data.median.map(function (d) { return d.value; }), color: COLORS.median }
      ], true, true);
    }
    el = document.getElementById("chart-areas");
    if (el) {
      barChart(el, data.areas.names, [
        { name: "匹配", data: data.areas.matched, color: COLORS.matched },
        { name: "已上门", data: data.areas.visited, color: COLORS.visited },
        { name: "已办结", data: data.areas.granted, color: COLORS.granted }
      ], false);
    }
  }

  function start() {
    initVisitForms(document);
    dashboard();
    document.body.addEventListener("htmx:afterSwap", function (event) { initVisitForms(event.target); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

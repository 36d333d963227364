/* 一屏管理: draws the panels of the screen from the page's json_script (first paint, no
   fetch), and redraws them from GET /api/v1/screen?area= : its live part (&part=live:
   forces, cases, alarms, policies) when the live stream fires "jiayuan:live" (debounced
   ~1 s), every panel once a minute. Every number is also written as text
   (textContent only, never HTML with data); the charts are ECharts, renderer svg. */
(function () {
  "use strict";

  var TEXT = "#e6edf7", MUTED = "#b4c2d6", SPLIT = "rgba(180, 194, 214, 0.16)";
  var LIGHT = { green: "#3ecf6e", yellow: "#f7c948", red: "#ff6b6b" };
  var SERIES = ["#5ec2ff", "#3ecf6e", "#ff9f43"];
  var DEBOUNCE_MS = 1000, REFRESH_MS = 60000;

  var root, charts = {}, data = null, timer = null, inflight = false, again = false;

  function font() { return getComputedStyle(document.body).fontFamily; }

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj);
  }

  function pct(part, whole) { return whole ? Math.round((part / whole) * 100) + "%" : "—"; }

  // --- text ----------------------------------------------------------------------------
  function setText(el, value) {
    var text = String(value);
    if (el.textContent !== text) {
      el.textContent = text;
      el.classList.remove("scr-changed");
      void el.offsetWidth; // restart the highlight animation
      el.classList.add("scr-changed");
    }
  }

  function fillList(el, items) {
    var rows = el.children;
    if (rows.length !== items.length) {
      while (el.firstChild) { el.removeChild(el.firstChild); }
      items.forEach(function () {
        var li = document.createElement("li");
        ["scr-figs-label", "scr-figs-value", "scr-figs-unit"].forEach(function (cls) {
          var span = document.createElement("span");
          span.className = cls;
          li.appendChild(span);
        });
        el.appendChild(li);
      });
    }
    items.forEach(function (item, i) {
      var li = el.children[i];
      li.setAttribute("data-key", item.key || "");
      li.querySelector(".scr-figs-label").textContent = item.label;
      setText(li.querySelector(".scr-figs-value"), item.value);
      var unit = li.querySelector(".scr-figs-unit");
      if (unit) { unit.textContent = item.unit || ""; }
    });
  }

  function fillTable(el, rows) {
    while (el.firstChild) { el.removeChild(el.firstChild); }
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (cell, i) {
        var td = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) { td.setAttribute("scope", "row"); }
        td.textContent = String(cell);
        tr.appendChild(td);
      });
      el.appendChild(tr);
    });
  }

  function drawText(d) {
    d.kpis.forEach(function (k) {
      var el = root.querySelector('[data-kpi="' + k.key + '"] .scr-kpi-value');
      if (el) { setText(el, k.value); }
    });
    root.querySelectorAll("[data-list]").forEach(function (el) {
      var items = get(d, el.getAttribute("data-list"));
      if (Array.isArray(items)) { fillList(el, items); }
    });
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var name = el.getAttribute("data-field");
      var value;
      if (name === "party.zone_coverage") { value = pct(d.party.branches, d.party.zones); }
      else if (name === "party.grid_coverage") { value = pct(d.party.groups, d.party.grids); }
      else { value = get(d, name); }
      if (value !== undefined && value !== null) { setText(el, value); }
    });
    var tables = {
      "party.by_child": d.party.by_child.map(function (c) {
        return [c.name, c.branches + "/" + c.zones, c.groups + "/" + c.grids];
      }),
      "alarms.by_level": d.alarms.by_level.map(function (r) { return [r.label, r.active, r.acknowledged]; }),
      "forces.by_kind": d.forces.by_kind.map(function (r) { return [r.label, r.on_duty, r.total]; }),
      "trends": d.trends.months.map(function (m, i) {
        return [m].concat(d.trends.series.map(function (s) { return s.data[i]; }));
      })
    };
    Object.keys(tables).forEach(function (name) {
      var el = root.querySelector('[data-table="' + name + '"]');
      if (el) { fillTable(el, tables[name]); }
    });
  }

  // --- charts --------------------------------------------------------------------------
  function chart(id) {
    if (typeof echarts === "undefined") { return null; }
    var el = document.getElementById(id);
    if (!el || !el.offsetWidth) { return null; }
    if (!charts[id]) { charts[id] = echarts.init(el, null, { renderer: "svg" }); }
    return charts[id];
  }

  function axisStyle(extra) {
    return Object.assign({
      axisLabel: { color: MUTED, fontSize: 12 },
      axisLine: { lineStyle: { color: SPLIT } },
      axisTick: { show: false },
      splitLine: { lineStyle: { color: SPLIT } }
    }, extra || {});
  }

  function base() {
    return { textStyle: { fontFamily: font(), color: TEXT }, animationDuration: 400 };
  }

  function bars(id, labels, series, horizontal) {
    var c = chart(id);
    if (!c) { return; }
    var cat = axisStyle({ type: "category", data: labels, axisLabel: { color: TEXT, fontSize: 12, interval: 0 } });
    var val = axisStyle({ type: "value", minInterval: 1 });
    if (horizontal) { val.axisLabel = { show: false }; } // the bars carry their numbers
    c.setOption(Object.assign(base(), {
      grid: { left: 4, right: 28, top: series.length > 1 ? 28 : 18, bottom: 2, containLabel: true },
      legend: series.length > 1 ? { top: 0, textStyle: { color: TEXT }, itemWidth: 12, itemHeight: 10 } : undefined,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? Object.assign(cat, { inverse: true }) : val,
      series: series.map(function (s) {
        return {
          name: s.name, type: "bar", data: s.data, stack: s.stack, barMaxWidth: 22,
          itemStyle: { color: s.color },
          label: { show: true, position: s.stack ? "inside" : (horizontal ? "right" : "top"),
                   color: s.stack ? "#0b1526" : TEXT, fontSize: 12,
                   formatter: function (p) { return p.value ? String(p.value) : ""; } }
        };
      })
    }), true);
  }

  function drawCharts(d) {
    var groups = d.population.groups;
    bars("chart-groups", groups.map(function (g) { return g.label; }),
         [{ name: "人数/户数", data: groups.map(function (g) { return g.value; }), color: "#5ec2ff" }], true);
    bars("chart-steps", d.cases.by_step.map(function (s) { return s.label; }),
         [{ name: "在办", data: d.cases.by_step.map(function (s) { return s.value; }), color: "#5ec2ff" }]);
    var lights = chart("chart-lights");
    if (lights) {
      lights.setOption(Object.assign(base(), {
        tooltip: { trigger: "item" },
        series: [{
          type: "pie", radius: ["42%", "68%"], center: ["50%", "52%"],
          label: { color: TEXT, formatter: "{b}\n{c}", fontSize: 12 },
          labelLine: { lineStyle: { color: MUTED } },
          data: d.cases.by_light.map(function (l) {
            return { name: l.label, value: l.value, itemStyle: { color: LIGHT[l.key] },
                     label: { show: l.value > 0 }, labelLine: { show: l.value > 0 } };
          })
        }]
      }), true);
    }
    var levels = d.alarms.by_level;
    bars("chart-alarms", levels.map(function (r) { return r.label; }), [
      { name: "未确认", stack: "a", data: levels.map(function (r) { return r.active; }), color: "#ff6b6b" },
      { name: "已确认", stack: "a", data: levels.map(function (r) { return r.acknowledged; }), color: "#f7c948" }
    ]);
    var kinds = d.forces.by_kind;
    bars("chart-forces", kinds.map(function (r) { return r.label; }), [
      { name: "在岗", data: kinds.map(function (r) { return r.on_duty; }), color: "#3ecf6e" },
      { name: "总数", data: kinds.map(function (r) { return r.total; }), color: "#5e7bad" }
    ], true);
    var trends = chart("chart-trends");
    if (trends) {
      trends.setOption(Object.assign(base(), {
        color: SERIES,
        grid: { left: 4, right: 12, top: 30, bottom: 2, containLabel: true },
        legend: { top: 0, textStyle: { color: TEXT } },
        tooltip: { trigger: "axis" },
        xAxis: axisStyle({ type: "category", data: d.trends.months.map(function (m) { return m.slice(2); }) }),
        yAxis: axisStyle({ type: "value", minInterval: 1 }),
        series: d.trends.series.map(function (s, i) {
          return { name: s.label, type: "line", data: s.data, smooth: true, symbolSize: 6,
                   symbol: ["circle", "rect", "triangle"][i % 3],
                   lineStyle: { type: ["solid", "dashed", "dotted"][i % 3], width: 2 } };
        })
      }), true);
    }
  }

  // A live answer carries the live panels only (the others null): keep the rest, and
  // the big numbers it does not carry (the residents).
  function merge(old, d) {
    if (!old) { return d; }
    var out = Object.assign({}, old);
    Object.keys(d).forEach(function (key) { if (d[key] !== null) { out[key] = d[key]; } });
    var fresh = {};
    d.kpis.forEach(function (k) { fresh[k.key] = k; });
    out.kpis = old.kpis.map(function (k) { return fresh[k.key] || k; });
    return out;
  }

  function draw(d) {
    data = merge(data, d);
    drawText(data);
    drawCharts(data);
  }

  // --- refresh -------------------------------------------------------------------------
  function refresh(live) {
    if (inflight) { again = true; return; }
    inflight = true;
    var url = root.getAttribute("data-panels-url") + (live === true ? "&part=live" : "");
    fetch(url, {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (d) {
      draw(d);
      root.setAttribute("data-refreshed", d.generated_at);
    }).catch(function () {
      root.setAttribute("data-refresh-error", String(Date.now()));
    }).then(function () {
      inflight = false;
      if (again) { again = false; schedule(); }
    });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { refresh(true); }, DEBOUNCE_MS);
  }

  function tick() {
    var el = document.getElementById("screen-clock");
    if (!el) { return; }
    var now = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    el.textContent = now.getFullYear() + "-" + two(now.getMonth() + 1) + "-" + two(now.getDate()) +
      " " + two(now.getHours()) + ":" + two(now.getMinutes()) + ":" + two(now.getSeconds());
    el.setAttribute("datetime", now.toISOString());
  }

  function start() {
    root = document.getElementById("screen");
    var source = document.getElementById("screen-data");
    if (!root || !source) { return; }
    data = null;
    draw(JSON.parse(source.textContent));
    tick();
    setInterval(tick, 1000);
    setInterval(refresh, REFRESH_MS);
    document.addEventListener("jiayuan:live", schedule);
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        Object.keys(charts).forEach(function (id) { charts[id].resize(); });
        if (data) { drawCharts(data); }
      }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

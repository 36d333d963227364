/* 家园 safety devices (智能安防): the device map (points coloured by status on the grid
   boundaries, no tile server) and a device's telemetry chart (ECharts). Data comes from
   json_script elements; nothing here talks to the server. */
(function () {
  "use strict";

  var PALETTE = ["#4f8fc0", "#e5a04b", "#5fae7b", "#b07cc6", "#e0775f", "#4bb3b0", "#c9a227", "#7f8fd1"];

  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function gridLayer(features) {
    var index = 0;
    var labelled = features.length <= 40;
    return L.geoJSON({ type: "FeatureCollection", features: features }, {
      interactive: labelled,
      style: function () {
        var color = PALETTE[index++ % PALETTE.length];
        return { color: "#ffffff", weight: 2, opacity: 1, fillColor: color, fillOpacity: 0.25 };
      },
      onEachFeature: function (f, layer) {
        if (labelled) {
          layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "jy-map-label" });
        }
      }
    });
  }

  /* Rows are compact arrays: [id, serial, type index, status index, lat, lng, alarmed]. */
  function popup(data, row) {
    var box = document.createElement("div");
    var link = document.createElement("a");
    link.href = data.url.replace("/0/", "/" + row[0] + "/");
    link.textContent = row[1];
    link.className = "jy-mono fw-bold";
    var meta = document.createElement("div");
    meta.className = "text-secondary small";
    meta.textContent = data.types[row[2]] + " · " + data.statuses[row[3]].label + (row[6] ? " · 有告警" : "");
    box.appendChild(link);
    box.appendChild(meta);
    return box;
  }

  /* The device map: each device a dot in its status colour; alarmed devices ringed red. */
  function deviceMap(el) {
    var data = json(el.getAttribute("data-device-map"));
    if (!data || typeof L === "undefined") { return; }
    var rows = data.devices || [];
    if (!rows.length && !(data.grids || []).length) { el.classList.add("d-none"); return; }
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.25, preferCanvas: true });
    map.createPane("jyPins").style.zIndex = 660;
    var grids = gridLayer(data.grids || []).addTo(map);
    var dots = L.featureGroup();
    rows.forEach(function (row) {
      var alarmed = row[6] === 1;
      var dot = L.circleMarker([row[4], row[5]], {
        radius: alarmed ? 7 : 4, color: alarmed ? "#d63939" : "#ffffff", weight: alarmed ? 3 : 1,
        fillColor: data.statuses[row[3]].color, fillOpacity: 0.95, pane: "jyPins"
      });
      dot.bindPopup(function () { return popup(data, row); });
      dot.addTo(dots);
    });
    dots.addTo(map);
    var bounds = grids.getBounds();
    if (!bounds.isValid()) { bounds = dots.getBounds(); }
    if (bounds.isValid() && rows.length === 1 && !(data.grids || []).length) {
      map.setView(bounds.getCenter(), 17);
    } else if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [12, 12] });
    } else {
      map.setView([35.73, 116.47], 13);
    }
    window.addEventListener("resize", function () { map.invalidateSize(); });
    el.jyMap = map;
  }

  /* A device's telemetry: one line per numeric field over the received messages. */
  function telemetryChart(el) {
    var data = json(el.getAttribute("data-telemetry"));
    if (!data || typeof echarts === "undefined") { return; }
    var chart = echarts.init(el, null, { renderer: "svg" });
    var names = Object.keys(data.series || {});
    chart.setOption({
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      color: ["#c0282d", "#206bc4", "#2fb344", "#f59f00", "#ae3ec9"],
      title: names.length ? undefined : { text: "暂无遥测数据", left: "center", top: "middle",
                                          textStyle: { color: "#9ca3af", fontSize: 14, fontWeight: "normal" } },
      legend: { top: 0, data: names.map(function (n) { return data.labels[n] || n; }) },
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "time", axisLabel: { color: "#6b7280", fontSize: 11 } },
      yAxis: { type: "value", scale: true, splitLine: { lineStyle: { color: "#eef0f3" } },
               axisLabel: { color: "#9ca3af", fontSize: 11 } },
      series: names.map(function (n) {
        return { name: data.labels[n] || n, type: "line", showSymbol: false, data: data.series[n] };
      })
    });
    if (data.threshold !== null && data.threshold !== undefined && names.length) {
      chart.setOption({ series: [{ markLine: { symbol: "none", silent: true,
        lineStyle: { color: "#d63939", type: "dashed" },
        data: [{ yAxis: data.threshold, name: "阈值" }] } }] });
    }
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function init() {
    document.querySelectorAll("[data-device-map]").forEach(deviceMap);
    document.querySelectorAll("[data-telemetry]").forEach(telemetryChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

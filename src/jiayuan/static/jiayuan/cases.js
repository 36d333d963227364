/* 家园 request loop (诉求办理) pages: the case's point on its grid, the location picker of
   the report and intake forms, the case map, the indicator charts and photo previews.
   Maps have no tile server: grid boundaries on a plain paper background. */
(function () {
  "use strict";

  var PALETTE = ["#4f8fc0", "#e5a04b", "#5fae7b", "#b07cc6", "#e0775f", "#4bb3b0", "#c9a227", "#7f8fd1"];

  function json(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function baseMap(el) {
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.25, scrollWheelZoom: false, tap: true });
    // Pins above the grid labels (tooltips), so a point at a grid's centre stays visible.
    map.createPane("jyPins").style.zIndex = 660;
    window.addEventListener("resize", function () { map.invalidateSize(); });
    return map;
  }

  function pin(color) {
    return L.divIcon({
      className: "",
      html: '<div class="jy-map-pin" style="background:' + color + '"></div>',
      iconSize: [18, 18],
      iconAnchor: [9, 18]
    });
  }

  function gridLayer(features, labelled) {
    var index = 0;
    return L.geoJSON({ type: "FeatureCollection", features: features }, {
      style: function () {
        var color = PALETTE[index++ % PALETTE.length];
        return { color: "#ffffff", weight: 2, opacity: 1, fillColor: color, fillOpacity: 0.35 };
      },
      onEachFeature: function (f, layer) {
        if (labelled) {
          layer.bindTooltip(f.properties.name, { permanent: true, direction: "center", className: "jy-map-label" });
        }
      }
    });
  }

  /* Ray casting over the outer rings of a (Multi)Polygon: which grid holds a point. */
  function inRing(lng, lat, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) { inside = !inside; }
    }
    return inside;
  }

  function gridAt(features, lat, lng) {
    for (var k = 0; k < features.length; k++) {
      var g = features[k].geometry;
      var polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      for (var p = 0; p < polygons.length; p++) {
        if (inRing(lng, lat, polygons[p][0])) { return features[k].properties.full || features[k].properties.name; }
      }
    }
    return null;
  }

  /* The case page: the grid's boundary and the case's point. */
  function caseMap(el) {
    var data = json(el.getAttribute("data-case-map"));
    if (!data || typeof L === "undefined") { return; }
    var map = baseMap(el);
    var bounds = null;
    if (data.grid && data.grid.geometry) {
      var outline = L.geoJSON(data.grid.geometry, {
        interactive: false,
        style: { color: "#c0282d", weight: 2.5, fillColor: "#c0282d", fillOpacity: 0.06 }
      }).addTo(map);
      outline.bindTooltip(data.grid.name, { permanent: false });
      bounds = outline.getBounds();
    }
    if (data.point) {
      L.marker(data.point, { icon: pin(data.color), title: data.label, keyboard: false, pane: "jyPins" }).addTo(map);
    }
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [16, 16] });
    } else if (data.point) {
      map.setView(data.point, 17);
    } else {
      el.classList.add("d-none");
    }
  }

  /* Report and intake: tap the map (or use the device's position) to fill lat/lng. */
  function pickMap(el) {
    var features = (json(el.getAttribute("data-pick-map")) || {}).features || [];
    if (typeof L === "undefined") { return; }
    var latInput = document.getElementById(el.getAttribute("data-lat"));
    var lngInput = document.getElementById(el.getAttribute("data-lng"));
    var out = document.getElementById(el.getAttribute("data-out"));
    var map = baseMap(el);
    var grids = gridLayer(features, features.length <= 40).addTo(map);
    var marker = null;
    if (grids.getBounds().isValid()) {
      map.fitBounds(grids.getBounds(), { padding: [10, 10] });
    } else {
      map.setView([35.73, 116.47], 13);
    }

    function choose(lat, lng, how) {
      lat = Math.round(lat * 1e6) / 1e6;
      lng = Math.round(lng * 1e6) / 1e6;
      latInput.value = lat;
      lngInput.value = lng;
      var latlng = L.latLng(lat, lng);
      if (marker) { marker.setLatLng(latlng); } else {
        marker = L.marker(latlng, { icon: pin("#c0282d"), keyboard: false, pane: "jyPins" }).addTo(map);
      }
      var grid = features.length ? gridAt(features, lat, lng) : null;
      if (out) {
        out.className = "small " + (grid || !features.length ? "text-success" : "text-danger");
        out.textContent = grid ? how + "：" + grid + "（" + lat.toFixed(5) + ", " + lng.toFixed(5) + "）"
          : features.length ? "该位置不在服务网格内，请重新选择" : how + "（" + lat.toFixed(5) + ", " + lng.toFixed(5) + "）";
      }
      el.dispatchEvent(new CustomEvent("jy:picked", { detail: { lat: lat, lng: lng, grid: grid } }));
    }

    map.on("click", function (e) { choose(e.latlng.lat, e.latlng.lng, "已选位置"); });
    if (latInput.value && lngInput.value) {
      choose(parseFloat(latInput.value), parseFloat(lngInput.value), "已选位置");
    }
    var button = document.querySelector('[data-locate="' + el.getAttribute("data-pick-map") + '"]');
    if (button) {
      button.addEventListener("click", function () {
        if (!navigator.geolocation) {
          if (out) { out.textContent = "浏览器不支持定位，请在地图上点选"; }
          return;
        }
        if (out) { out.textContent = "正在定位…"; }
        navigator.geolocation.getCurrentPosition(function (pos) {
          choose(pos.coords.latitude, pos.coords.longitude, "当前位置");
          map.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.getZoom(), 16));
        }, function () {
          if (out) { out.className = "small text-danger"; out.textContent = "无法获取定位，请在地图上点选问题位置"; }
        }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
      });
    }
    el.jyMap = map;
  }

  /* The case map: open cases as dots coloured by their light, on the grids. */
  function casesMap(el) {
    var data = json(el.getAttribute("data-cases-map"));
    if (!data || typeof L === "undefined") { return; }
    var map = baseMap(el);
    map.scrollWheelZoom.enable();
    var grids = gridLayer(data.grids || [], (data.grids || []).length <= 40).addTo(map);
    var dots = L.featureGroup();
    (data.cases || []).forEach(function (c) {
      var dot = L.circleMarker([c.lat, c.lng], {
        radius: 7, color: "#ffffff", weight: 2, fillColor: c.color, fillOpacity: 0.95, pane: "jyPins"
      });
      var box = document.createElement("div");
      var link = document.createElement("a");
      link.href = c.url;
      link.textContent = c.number;
      link.className = "jy-mono fw-bold";
      var title = document.createElement("div");
      title.textContent = c.title;
      var meta = document.createElement("div");
      meta.className = "text-secondary small";
      meta.textContent = c.category + " · " + c.status;
      box.appendChild(link);
      box.appendChild(title);
      box.appendChild(meta);
      dot.bindPopup(box);
      dot.addTo(dots);
    });
    dots.addTo(map);
    var bounds = grids.getBounds();
    if (!bounds.isValid()) { bounds = dots.getBounds(); }
    if (bounds.isValid()) { map.fitBounds(bounds, { padding: [16, 16] }); } else { map.setView([35.73, 116.47], 13); }
    el.jyMap = map;
  }

  /* The indicator dashboard. */
  function charts() {
    var data = json("indicator-data");
    if (!data || typeof echarts === "undefined") { return; }
    var font = getComputedStyle(document.body).fontFamily;
    var monthly = document.getElementById("chart-monthly");
    if (monthly) {
      var bars = echarts.init(monthly, null, { renderer: "svg" });
      bars.setOption({
        textStyle: { fontFamily: font },
        color: ["#c0282d", "#2fb344"],
        legend: { top: 0, data: ["受理", "办结"] },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 8, right: 8, top: 32, bottom: 4, containLabel: true },
        xAxis: { type: "category", data: data.months, axisTick: { show: false },
                 axisLabel: { color: "#6b7280", fontSize: 11 } },
        yAxis: { type: "value", minInterval: 1, splitLine: { lineStyle: { color: "#eef0f3" } },
                 axisLabel: { color: "#9ca3af", fontSize: 11 } },
        series: [
          { name: "受理", type: "bar", data: data.received, barMaxWidth: 18, itemStyle: { borderRadius: [3, 3, 0, 0] } },
          { name: "办结", type: "bar", data: data.closed, barMaxWidth: 18, itemStyle: { borderRadius: [3, 3, 0, 0] } }
        ]
      });
      window.addEventListener("resize", function () { bars.resize(); });
    }
    var pie = document.getElementById("chart-satisfaction");
    if (pie) {
      var colors = { satisfied: "#2fb344", basic: "#f59f00", unsatisfied: "#d63939" };
      var chart = echarts.init(pie, null, { renderer: "svg" });
      var rows = data.satisfaction || [];
      chart.setOption({
        textStyle: { fontFamily: font },
        tooltip: { trigger: "item", formatter: "{b}：{c}（{d}%）" },
        legend: { bottom: 0 },
        title: rows.length ? undefined : { text: "暂无回访", left: "center", top: "middle",
                                            textStyle: { color: "#9ca3af", fontSize: 14, fontWeight: "normal" } },
        series: [{
          type: "pie", radius: ["45%", "70%"], center: ["50%", "45%"], avoidLabelOverlap: true,
          label: { formatter: "{b}\n{d}%", fontSize: 11 },
          data: rows.map(function (r) { return { name: r.name, value: r.value, itemStyle: { color: colors[r.key] } }; })
        }]
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
  }

  /* Thumbnails of the photos chosen in a file input. */
  function previews(box) {
    var input = document.getElementById(box.getAttribute("data-previews-for"));
    if (!input || !window.URL) { return; }
    var count = document.querySelector('[data-photo-count="' + input.id + '"]');
    input.addEventListener("change", function () {
      box.textContent = "";
      if (count) { count.textContent = input.files && input.files.length ? "已选 " + input.files.length + " 张，点此重新选择" : "拍照或选择照片"; }
      Array.prototype.slice.call(input.files || [], 0, 9).forEach(function (file) {
        if (!/^image\//.test(file.type)) { return; }
        var img = document.createElement("img");
        img.alt = file.name;
        img.src = URL.createObjectURL(file);
        box.appendChild(img);
      });
    });
  }

  /* The action dialog: empty it when closed so the next button never shows stale content. */
  function dialog() {
    var modal = document.getElementById("action-dialog");
    if (!modal) { return; }
    modal.addEventListener("hidden.bs.modal", function () {
      var content = document.getElementById("action-dialog-content");
      if (content) { content.innerHTML = '<div class="modal-body text-center text-secondary py-5">加载中…</div>'; }
    });
  }

  function init() {
    document.querySelectorAll("[data-case-map]").forEach(caseMap);
    document.querySelectorAll("[data-pick-map]").forEach(pickMap);
    document.querySelectorAll("[data-cases-map]").forEach(casesMap);
    document.querySelectorAll("[data-previews-for]").forEach(previews);
    charts();
    dialog();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

/* 家园 one screen (一屏): the map with one overlay per layer kind.

   The page (command/screen.html) has <main id="screen" data-area data-layers-url> and the
   partial command/screen_map.html a <div data-screen-map="<json id>"> with the layers the
   user is offered ([{kind, label, on}]). Each overlay is fetched from
   GET <layers-url>?area=<id>&kind=<kind> the first time it is switched on; grids and
   alarms are on at first. No tile server: the areas' boundaries are the base.

   Every name (area, place, device, case title) is user text: tooltips and popups are
   built from elements with textContent, never from HTML strings.

   window.JiayuanScreenMap lets command/live.js add what arrives live:
   addAlarm(feature) (the marker flashes), addCase(feature), reload(kind). */
(function () {
  "use strict";

  var SEVERITY_COLORS = { critical: "#ff4d4f", major: "#ff9f43", minor: "#ffd43b", warning: "#5ec2ff" };
  var LIGHT_COLORS = { red: "#e03131", yellow: "#f59f00", green: "#2fb344" };
  var DEVICE_COLORS = { online: "#2fb344", offline: "#9aa0ac", fault: "#f59f00" };
  var AREA_STYLES = {
    scope: { color: "#5ec2ff", weight: 3, opacity: 1, fillOpacity: 0 },
    community: { color: "#8fb8e8", weight: 2, opacity: 0.9, fillColor: "#2a4a75", fillOpacity: 0.25 },
    grid: { color: "#5d7fa8", weight: 1, opacity: 0.8, fillColor: "#1f3a5f", fillOpacity: 0.15, dashArray: "3 3" }
  };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /* A popup: a title (a link when the feature has a page) and lines of text. */
  function popup(title, href, lines) {
    var box = el("div", "jy-live-popup");
    var head;
    if (href) {
      head = el("a", "", title);
      head.href = href;
      head = (function (a) { var s = el("strong"); s.appendChild(a); return s; })(head);
    } else {
      head = el("strong", "", title);
    }
    box.appendChild(head);
    lines.forEach(function (line) { if (line) { box.appendChild(el("div", "jy-live-meta", line)); } });
    return box;
  }

  function linkOf(data, id) {
    return data.link && id ? data.link.replace("/0/", "/" + id + "/") : "";
  }

  function ScreenMap(node, root) {
    this.node = node;
    this.root = root;
    this.area = root.getAttribute("data-area");
    this.url = root.getAttribute("data-layers-url") || "/api/v1/screen/layers";
    this.status = document.querySelector("[data-map-status]");
    var source = document.getElementById(node.getAttribute("data-screen-map"));
    this.offered = source ? JSON.parse(source.textContent) : [];
    this.groups = {};
    this.loaded = {};
    this.alarmIds = {};
    this.caseIds = {};
    this.fitted = false;
    this.links = {};
    this.pending = { alarms: [], cases: [] };
    this.labelGrids = false;
    this.map = L.map(node, { attributionControl: false, zoomSnap: 0.25, preferCanvas: true });
    // Alarms are drawn as SVG (few, on top) so that a new one can flash with a CSS animation.
    // Their own pane above the markers (cases), so an alarm is never hidden under one.
    this.map.createPane("jyAlarms").style.zIndex = 650;
    this.svg = L.svg({ padding: 0.2, pane: "jyAlarms" });
    this.map.setView([35.73, 116.47], 12);
    var overlays = {};
    var self = this;
    this.offered.forEach(function (layer) {
      var group = L.featureGroup();
      group.jyKind = layer.kind;
      self.groups[layer.kind] = group;
      overlays[layer.label] = group;
      if (layer.on) { group.addTo(self.map); self.load(layer.kind); }
    });
    // Open on a wall screen; a button on a phone, where it would cover half the map.
    var narrow = window.matchMedia && window.matchMedia("(max-width: 767.98px)").matches;
    L.control.layers(null, overlays, { collapsed: !!narrow, position: "topright" }).addTo(this.map);
    this.map.on("overlayadd", function (e) {
      if (e.layer && e.layer.jyKind && !self.loaded[e.layer.jyKind]) { self.load(e.layer.jyKind); }
    });
    window.addEventListener("resize", function () { self.map.invalidateSize(); });
  }

  ScreenMap.prototype.say = function (text) {
    if (this.status) { this.status.textContent = text; }
  };

  ScreenMap.prototype.load = function (kind) {
    var self = this;
    this.loaded[kind] = "loading";
    var query = "?area=" + encodeURIComponent(this.area) + "&kind=" + encodeURIComponent(kind);
    fetch(this.url + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) {
          self.loaded[kind] = false;
          self.say((result.body && result.body.message) || "图层加载失败");
          return;
        }
        self.loaded[kind] = true;
        self.draw(kind, result.body);
        if (result.body.limited) { self.say("图层数据较多，仅显示最新部分"); }
      })
      .catch(function () { self.loaded[kind] = false; self.say("图层加载失败，请刷新"); });
  };

  ScreenMap.prototype.reload = function (kind) {
    if (this.groups[kind] && this.loaded[kind] === true) { this.load(kind); }
  };

  ScreenMap.prototype.draw = function (kind, data) {
    var group = this.groups[kind];
    if (!group) { return; }
    group.clearLayers();
    if (kind === "alarms") { this.alarmIds = {}; }
    if (kind === "cases") { this.caseIds = {}; }
    this.links[kind] = data.link || "";
    if (kind === "grids") {
      // Grids are labelled on a community's screen (a handful); above it the communities are.
      var features = data.features || [];
      this.labelGrids = features.length <= 41 && !features.some(function (f) { return f.properties.role === "community"; });
    }
    var self = this;
    (data.features || []).forEach(function (f) { self.drawOne(kind, data, f, false); });
    if (kind === "grids" && !this.fitted) {
      var bounds = group.getBounds();
      if (bounds.isValid()) { this.map.fitBounds(bounds, { padding: [10, 10] }); this.fitted = true; }
    }
    this.node.setAttribute("data-" + kind + "-count", String((data.features || []).length));
    // What arrived live while the layer was loading (already in it, or added now).
    if (this.pending[kind]) {
      var waiting = this.pending[kind];
      this.pending[kind] = [];
      waiting.forEach(function (f) { if (kind === "alarms") { self.addAlarm(f); } else { self.addCase(f); } });
    }
  };

  ScreenMap.prototype.drawOne = function (kind, data, f, fresh) {
    var group = this.groups[kind];
    var p = f.properties || {};
    if (!group || !f.geometry) { return null; }
    var self = this;
    if (kind === "grids") {
      var shape = L.geoJSON(f, { style: function () { return AREA_STYLES[p.role] || AREA_STYLES.grid; } });
      var permanent = p.role === "community" || (p.role === "grid" && this.labelGrids);
      if (p.role !== "scope") {
        shape.bindTooltip(el("span", "", p.name), {
          sticky: !permanent, permanent: permanent, direction: "center", className: permanent ? "jy-live-label" : ""
        });
      }
      if (p.role !== "scope") {
        shape.bindPopup(function () { return popup(p.name, linkOf(data, p.id), [p.kind]); });
      }
      group.addLayer(shape);
      return shape;
    }
    var c = f.geometry.coordinates;
    var at = [c[1], c[0]];
    var marker;
    if (kind === "alarms") {
      if (this.alarmIds[p.id]) { return this.alarmIds[p.id]; }
      marker = L.circleMarker(at, {
        radius: p.severity === "critical" ? 9 : 7, color: "#ffffff", weight: 2,
        fillColor: SEVERITY_COLORS[p.severity] || "#ff4d4f", fillOpacity: 0.95,
        renderer: this.svg, pane: "jyAlarms", className: fresh ? "jy-alarm-marker jy-alarm-flash" : "jy-alarm-marker"
      });
      marker.bindPopup(function () {
        return popup(p.title, linkOf(data, p.id), [p.severity_label + " · " + p.device, p.at]);
      });
      this.alarmIds[p.id] = marker;
    } else if (kind === "cases") {
      if (this.caseIds[p.id]) { group.removeLayer(this.caseIds[p.id]); }
      // A square in the light's colour (the legend's shape), apart from the round dots.
      var light = LIGHT_COLORS[p.light] ? p.light : "green";
      marker = L.marker(at, {
        icon: L.divIcon({ className: "jy-case-icon jy-case-" + light, iconSize: [12, 12] }),
        keyboard: false, title: p.status_label + "：" + (p.number || "")
      });
      marker.bindPopup(function () {
        return popup(p.number + " " + (p.title || ""), linkOf(data, p.id), [p.status_label + " · " + p.light_label, p.at]);
      });
      this.caseIds[p.id] = marker;
    } else if (kind === "devices") {
      if (data.clustered) {
        marker = L.circleMarker(at, {
          radius: Math.min(22, 5 + Math.sqrt(p.count || 1)), color: "#ffffff", weight: 1,
          fillColor: "#4f8fc0", fillOpacity: 0.7
        });
        marker.bindPopup(function () {
          var by = p.by_status || {};
          var parts = Object.keys(by).map(function (s) { return (data.statuses[s] || s) + " " + by[s]; });
          return popup((p.name || "网格") + "：" + p.count + " 台设备", "", [parts.join(" · ")]);
        });
      } else {
        marker = L.circleMarker(at, {
          radius: 4, color: "#ffffff", weight: 1, fillColor: DEVICE_COLORS[p.status] || "#9aa0ac", fillOpacity: 0.9
        });
        marker.bindPopup(function () {
          return popup(p.name, linkOf(data, p.id), [(data.statuses || {})[p.status] || p.status]);
        });
      }
    } else if (kind === "positions") {
      marker = L.circleMarker(at, { radius: 7, color: "#ffffff", weight: 2, fillColor: "#c0282d", fillOpacity: 0.95 });
      marker.bindPopup(function () {
        return popup(p.name, linkOf(data, p.id), [p.kind, "设施 " + p.facilities + " 项"]);
      });
    } else if (kind === "forces") {
      marker = L.circleMarker(at, { radius: 6, color: "#0d1a2d", weight: 2, fillColor: "#6ee29a", fillOpacity: 0.95 });
      // Opening the force's position page is itself an audited look.
      marker.bindPopup(function () {
        return popup(p.name, linkOf(data, p.id), [p.kind, p.at ? "定位于 " + p.at : ""]);
      });
    } else {
      return null;
    }
    group.addLayer(marker);
    return marker;
  };

  /* A new alarm from the live stream: drawn (if the alarms layer is loaded) and flashed. */
  ScreenMap.prototype.addAlarm = function (feature) {
    if (!feature || !feature.geometry || !this.groups.alarms) { return null; }
    if (this.loaded.alarms === "loading") { this.pending.alarms.push(feature); return null; }
    if (this.loaded.alarms !== true) { return null; }
    var p = feature.properties || {};
    if (this.alarmIds[p.id]) { this.groups.alarms.removeLayer(this.alarmIds[p.id]); delete this.alarmIds[p.id]; }
    var marker = this.drawOne("alarms", { link: this.links.alarms }, feature, true);
    if (marker && marker.bringToFront) { marker.bringToFront(); }
    var count = Object.keys(this.alarmIds).length;
    this.node.setAttribute("data-alarms-count", String(count));
    return marker;
  };

  ScreenMap.prototype.addCase = function (feature) {
    if (!feature || !feature.geometry || !this.groups.cases) { return null; }
    if (this.loaded.cases === "loading") { this.pending.cases.push(feature); return null; }
    if (this.loaded.cases !== true) { return null; }
    var p = feature.properties || {};
    var open = ["closed", "rejected", "merged"].indexOf(p.status) === -1;
    if (!open) {
      if (this.caseIds[p.id]) { this.groups.cases.removeLayer(this.caseIds[p.id]); delete this.caseIds[p.id]; }
      return null;
    }
    return this.drawOne("cases", { link: this.links.cases }, feature, true);
  };

  function init() {
    var node = document.querySelector("[data-screen-map]");
    var root = document.getElementById("screen");
    if (!node || !root || typeof L === "undefined") { return; }
    var screenMap = new ScreenMap(node, root);
    node.jyMap = screenMap.map;
    window.JiayuanScreenMap = screenMap;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

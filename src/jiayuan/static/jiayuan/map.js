/* 家园 area maps: boundaries from a json_script element, no tile layer.
   <div data-jy-map="features-id"></div> draws the FeatureCollection in #features-id:
   the children of the current area (properties.role == "child") in soft colours that open
   their page when clicked, and the current area's outline on top. */
(function () {
  "use strict";

  // Distinct soft colours so neighbours read apart without a base map.
  var PALETTE = ["#4f8fc0", "#e5a04b", "#5fae7b", "#b07cc6", "#e0775f", "#4bb3b0", "#c9a227", "#7f8fd1"];

  function childStyle(index) {
    return { color: "#ffffff", weight: 2, opacity: 1, fillColor: PALETTE[index % PALETTE.length], fillOpacity: 0.45 };
  }

  var pointsLabelled = 0;

  function label(layer, feature, permanent) {
    var point = feature.geometry.type === "Point";
    // Neighbouring buildings sit close together: label them left and right in turn.
    var side = point ? (pointsLabelled++ % 2 ? "left" : "right") : "center";
    layer.bindTooltip(feature.properties.name, {
      permanent: permanent,
      direction: side,
      className: "jy-map-label",
      offset: point ? [side === "left" ? -8 : 8, 0] : [0, 0]
    });
  }

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-jy-map"));
    if (!source || typeof L === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var children = (data.features || []).filter(function (f) { return f.properties.role === "child"; });
    var current = (data.features || []).filter(function (f) { return f.properties.role === "current"; });
    if (!children.length && !current.length) {
      el.classList.add("d-none");
      return;
    }
    var map = L.map(el, { attributionControl: false, zoomSnap: 0.25, scrollWheelZoom: false });
    var labelAll = children.length <= 40;
    var index = 0;
    var childLayer = L.geoJSON({ type: "FeatureCollection", features: children }, {
      style: function () { return childStyle(index++); },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 7, color: "#ffffff", weight: 2, fillColor: "#c0282d", fillOpacity: 0.95 });
      },
      onEachFeature: function (f, lyr) {
        label(lyr, f, labelAll);
        lyr.on("click", function () { window.location.href = f.properties.url; });
        lyr.on("mouseover", function () { if (lyr.setStyle) { lyr.setStyle({ weight: 3, fillOpacity: 0.7 }); } });
        lyr.on("mouseout", function () { if (lyr.setStyle) { lyr.setStyle({ weight: 2, fillOpacity: 0.45 }); } });
      }
    });
    var currentLayer = L.geoJSON({ type: "FeatureCollection", features: current }, {
      interactive: false,
      style: function () {
        return { color: "#c0282d", weight: 3, opacity: 0.95, fillColor: "#c0282d", fillOpacity: children.length ? 0 : 0.08 };
      },
      onEachFeature: function (f, lyr) { if (!children.length) { label(lyr, f, true); } }
    });
    childLayer.addTo(map);
    currentLayer.addTo(map);
    var bounds = current.length ? currentLayer.getBounds() : childLayer.getBounds();
    if (!bounds.isValid()) { bounds = childLayer.getBounds(); }
    if (!bounds.isValid()) {
      el.classList.add("d-none");
      return;
    }
    map.fitBounds(bounds, { padding: [18, 18] });
    el.jyMap = map;
    window.addEventListener("resize", function () { map.invalidateSize(); });
  }

  function init() {
    document.querySelectorAll("[data-jy-map]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

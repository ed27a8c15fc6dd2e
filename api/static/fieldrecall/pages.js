/* fieldrecall pages: the small script every page loads (after the vendored libraries).
 *
 * - CSRF: htmx requests carry the page's token (<meta name="csrf-token">) in X-CSRF-Token.
 * - Charts: <div data-vega-lite="ID"> is drawn from the Vega-Lite spec in
 *   <script type="application/json" id="ID"> with vega-embed, as SVG, through Vega's
 *   expression interpreter (the Content-Security-Policy forbids eval).
 * - Maps: <div data-geojson="ID"> is drawn from the GeoJSON FeatureCollection in
 *   <script type="application/json" id="ID"> with Leaflet: a Point with a "label" is a
 *   numbered marker, other Points are dots, lines are coloured ("color", else a palette);
 *   "title" shows on tap. Tiles come from data-tile-url (none when empty); markers and
 *   lines show without them.
 * Each widget's data-state goes pending -> drawn, or failed (with the reason shown).
 * Widgets in content that htmx swaps in are drawn too.
 */
(function () {
  "use strict";

  var PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : null;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });

  function readJson(id) {
    var source = document.getElementById(id);
    if (!source) throw new Error("no data element #" + id);
    return JSON.parse(source.textContent);
  }

  function failed(element, error) {
    element.dataset.state = "failed";
    var note = document.createElement("p");
    note.className = "widget-error";
    note.textContent = "Could not draw this: " + (error && error.message ? error.message : error);
    element.replaceChildren(note);
    console.error(error);
  }

  function drawChart(element) {
    element.dataset.state = "drawing";
    var spec = readJson(element.dataset.vegaLite);
    return window
      .vegaEmbed(element, spec, {
        renderer: "svg",
        actions: false,
        defaultStyle: false,
        ast: true,
        expr: window.vega.expressionInterpreter,
        tooltip: false,
      })
      .then(function (result) {
        element.dataset.state = "drawn";
        return result;
      });
  }

  function numberedIcon(label, color) {
    var badge = document.createElement("span");
    badge.className = "fr-marker-label";
    badge.textContent = String(label);
    if (color) badge.style.backgroundColor = color;
    return window.L.divIcon({ className: "fr-marker", html: badge, iconSize: [32, 32] });
  }

  function titled(layer, feature) {
    var title = feature.properties && feature.properties.title;
    if (title) {
      var text = document.createElement("span");
      text.textContent = title;
      layer.bindPopup(text);
    }
  }

  function drawMap(element) {
    var L = window.L;
    var data = readJson(element.dataset.geojson);
    var map = L.map(element, { scrollWheelZoom: false });
    if (element.dataset.tileUrl) {
      L.tileLayer(element.dataset.tileUrl, {
        maxZoom: 19,
        attribution: element.dataset.tileAttribution || "",
      }).addTo(map);
    }
    var lines = 0;
    var layer = L.geoJSON(data, {
      style: function (feature) {
        // Leaflet styles the dots with this too; they keep their own look.
        if (feature.geometry.type === "Point") return {};
        var color = feature.properties.color || PALETTE[lines++ % PALETTE.length];
        return { color: color, weight: 5, opacity: 0.85 };
      },
      pointToLayer: function (feature, latlng) {
        var p = feature.properties || {};
        if (p.label !== undefined && p.label !== null) {
          return L.marker(latlng, {
            icon: numberedIcon(p.label, p.color),
            title: p.title || String(p.label),
            keyboard: true,
          });
        }
        var color = p.color || PALETTE[0];
        return L.circleMarker(latlng, {
          radius: 7, color: "#ffffff", weight: 2, fillColor: color, fillOpacity: 0.9,
        });
      },
      onEachFeature: function (feature, featureLayer) {
        titled(featureLayer, feature);
      },
    }).addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 });
    else map.setView([0, 0], 1);
    element.dataset.state = "drawn";
    return map;
  }

  function each(root, selector, draw) {
    var found = root.querySelectorAll ? root.querySelectorAll(selector) : [];
    Array.prototype.forEach.call(found, function (element) {
      if (element.dataset.state !== "pending") return;
      try {
        var drawn = draw(element);
        if (drawn && typeof drawn.catch === "function") {
          drawn.catch(function (error) { failed(element, error); });
        }
      } catch (error) {
        failed(element, error);
      }
    });
  }

  function drawAll(root) {
    each(root, "[data-vega-lite]", drawChart);
    each(root, "[data-geojson]", drawMap);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.detail.elt); });
  window.fieldrecall = { draw: drawAll };
})();

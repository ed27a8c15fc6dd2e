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
 * - Regions: a map with data-draw-region="INPUT" lets the user draw a polygon: each tap
 *   on the map adds a corner; buttons [data-draw-finish|undo|clear="MAP"] close the
 *   polygon (written to the input as a GeoJSON Polygon, lon/lat), take the last corner
 *   back, or remove the region; [data-draw-status="MAP"] says where the drawing stands.
 *   A region already in the input is drawn when the map is. The map's data-region is
 *   "none", "drawing" or "closed".
 * - Forms with data-submit-once are sent once: a second submit (a double click) is
 *   ignored and the buttons are disabled while the next page loads.
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
    var input = null;
    var corners = [];
    if (element.dataset.drawRegion) {
      input = document.getElementById(element.dataset.drawRegion);
      if (!input) throw new Error("no input #" + element.dataset.drawRegion + " for the region");
      corners = regionCorners(input.value);
      if (corners.length) {
        var around = L.latLngBounds(corners);
        bounds = bounds.isValid() ? bounds.extend(around) : around;
      }
    }
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 14 });
    else map.setView([0, 0], 1);
    // Layers are added once the map has a view (Leaflet cannot place them before).
    if (input) regionTool(map, element, input, corners);
    element.dataset.state = "drawn";
    return map;
  }

  // A GeoJSON Polygon's outer ring as [lat, lng] corners (without the closing repeat).
  function regionCorners(value) {
    if (!value) return [];
    var given = JSON.parse(value);
    if (given.type !== "Polygon" || !given.coordinates.length) return [];
    return given.coordinates[0].slice(0, -1).map(function (p) { return [p[1], p[0]]; });
  }

  // Drawing a region: corners are [lat, lng] while drawing, GeoJSON [lon, lat] in the input.
  function regionTool(map, element, input, corners) {
    var L = window.L;
    var closed = corners.length >= 3;
    var outline = L.polyline([], {
      color: "#000000", weight: 3, dashArray: "8 6", interactive: false,
    }).addTo(map);
    var marks = L.layerGroup().addTo(map);

    function say(text) {
      var status = document.querySelector('[data-draw-status="' + element.id + '"]');
      if (status) status.textContent = text;
    }

    function redraw() {
      marks.clearLayers();
      corners.forEach(function (corner) {
        L.circleMarker(corner, {
          radius: 5, color: "#000000", weight: 2, fillColor: "#ffffff", fillOpacity: 1,
          interactive: false,
        }).addTo(marks);
      });
      outline.setLatLngs(closed ? corners.concat([corners[0]]) : corners);
      element.dataset.region = closed ? "closed" : corners.length ? "drawing" : "none";
      if (closed) say("Region closed: " + corners.length + " corners.");
      else if (corners.length) say(corners.length + " corner(s); tap more, then close the region.");
      else say("No region: the whole map.");
    }

    function write() {
      if (!closed) { input.value = ""; return; }
      var ring = corners.map(function (c) { return [round(c[1]), round(c[0])]; });
      ring.push(ring[0]);
      input.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    }

    function round(x) { return Math.round(x * 1e6) / 1e6; }

    map.on("click", function (event) {
      if (closed) return;
      corners.push([event.latlng.lat, event.latlng.lng]);
      redraw();
    });
    function on(kind, act) {
      var buttons = document.querySelectorAll("[data-draw-" + kind + '="' + element.id + '"]');
      Array.prototype.forEach.call(buttons, function (button) {
        button.addEventListener("click", function () {
          if (act() === false) return;
          redraw();
          write();
        });
      });
    }
    on("finish", function () {
      if (corners.length < 3) { say("A region needs at least 3 corners."); return false; }
      closed = true;
    });
    on("undo", function () { if (closed) closed = false; else corners.pop(); });
    on("clear", function () { corners = []; closed = false; });
    redraw();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-submit-once")) return;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "true";
    // After this event: a disabled button would drop its own name and value from the form.
    window.setTimeout(function () {
      Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) {
        b.disabled = true;
      });
    }, 0);
  });

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

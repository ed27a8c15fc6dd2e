/* fieldrecall field app: the service worker of one technician's link, served at
 * /t/<token>/sw.js so that its scope is that link's pages.
 *
 * - The link's pages (the list of days, each day): from the network when there is one
 *   (and kept), else the kept copy; a page never kept answers a short "not kept" page.
 * - /static/ files: their addresses carry a content hash, so a kept copy is always right;
 *   kept on first use.
 * - Posts (the work queue) always go to the network: the page keeps what cannot be sent.
 * - The message {type: "keep", urls} fetches and keeps those addresses now, with every
 *   /static/ file a kept page uses, and answers {kept, failed} on the port it came with:
 *   the page asks for the list of days, the coming days and its own scripts and styles.
 */
"use strict";

var SCOPE = self.registration.scope;
var CACHE = "fieldrecall-field:" + new URL(SCOPE).pathname;

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(self.clients.claim());
});

function keep(request, response) {
  if (!response || !response.ok || response.type !== "basic") return Promise.resolve(response);
  var copy = response.clone();
  return caches.open(CACHE).then(function (cache) {
    return cache.put(request, copy);
  }).then(function () { return response; });
}

function kept(request) {
  return caches.open(CACHE).then(function (cache) { return cache.match(request); });
}

function notKept() {
  var page = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
    "<title>Not kept offline</title><h1>Not kept for offline use</h1>" +
    "<p>This page was not opened with a connection yet, so it is not on this phone. " +
    "Open it again when you have signal.</p>";
  return new Response(page, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

function networkFirst(request) {
  return fetch(request).then(
    function (response) { return keep(request, response); },
    function () {
      return kept(request).then(function (hit) { return hit || notKept(); });
    }
  );
}

function keptFirst(request) {
  return kept(request).then(function (hit) {
    return hit || fetch(request).then(function (response) { return keep(request, response); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(keptFirst(request));
  } else if (request.url.indexOf(SCOPE) === 0 && url.pathname !== new URL(SCOPE).pathname + "sw.js") {
    event.respondWith(networkFirst(request));
  }
});

// The static files a kept page uses (scripts, styles, icons): a day never opened online
// needs them offline too (the map's Leaflet is on a day's page, not on the list of days).
var PAGE_ASSET = /(?:src|href)="(\/static\/[^"]+)"/g;

function assetsOf(html) {
  var found = [];
  var match;
  PAGE_ASSET.lastIndex = 0;
  while ((match = PAGE_ASSET.exec(html)) !== null) {
    found.push(new URL(match[1].replace(/&amp;/g, "&"), self.location.origin).href);
  }
  return found;
}

function keepAsset(url) {
  var request = new Request(url);
  return kept(request).then(function (hit) {
    if (hit) return true;
    return fetch(request).then(function (response) {
      if (!response.ok) return false;
      return keep(request, response).then(function () { return true; });
    }, function () { return false; });
  });
}

// A page and every static file it uses; true when all of them are kept.
function keepPage(url) {
  var request = new Request(url, { credentials: "same-origin" });
  return fetch(request, { cache: "no-store" }).then(function (response) {
    if (!response.ok) return false;
    var html = (response.headers.get("Content-Type") || "").indexOf("text/html") === 0;
    var text = html ? response.clone().text() : Promise.resolve("");
    return keep(request, response)
      .then(function () { return text; })
      .then(function (body) { return Promise.all(assetsOf(body).map(keepAsset)); })
      .then(function (assets) { return assets.every(Boolean); });
  }, function () { return false; });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  var port = event.ports && event.ports[0];
  var urls = data.urls.filter(function (url, i, all) { return all.indexOf(url) === i; });
  var work = Promise.all(urls.map(keepPage)).then(function (results) {
    var ok = results.filter(Boolean).length;
    if (port) port.postMessage({ kept: ok, failed: results.length - ok });
  });
  event.waitUntil(work);
});

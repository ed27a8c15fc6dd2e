/* fieldrecall field app: the service worker of one technician's link, served at
 * /t/<token>/sw.js so that its scope is that link's pages.
 *
 * - The link's pages (the list of days, each day): from the network when there is one
 *   (and kept), else the kept copy; a page never kept answers a short "not kept" page.
 * - /static/ files: their addresses carry a content hash, so a kept copy is always right;
 *   kept on first use.
 * - Posts (the work queue) always go to the network: the page keeps what cannot be sent.
 * - The message {type: "keep", urls} fetches and keeps those addresses now and answers
 *   {kept, failed} on the port it came with: the page asks for the coming days and the
 *   scripts and styles they use.
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

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  var port = event.ports && event.ports[0];
  var urls = data.urls.filter(function (url, i, all) { return all.indexOf(url) === i; });
  var work = Promise.all(urls.map(function (url) {
    var request = new Request(url, { credentials: "same-origin" });
    return fetch(request, { cache: "no-store" }).then(function (response) {
      if (!response.ok) return false;
      return keep(request, response).then(function () { return true; });
    }, function () { return false; });
  })).then(function (results) {
    var ok = results.filter(Boolean).length;
    if (port) port.postMessage({ kept: ok, failed: results.length - ok });
  });
  event.waitUntil(work);
});

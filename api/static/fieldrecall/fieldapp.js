/* fieldrecall field app: the technician's day behind its secret link, with or without signal.
 *
 * - Offline: registers the service worker (/t/<token>/sw.js) and asks it to keep the pages
 *   in the page's settings (the list of days and every coming day) with every script and
 *   style they use; <body data-offline="kept"> once they are kept.
 * - Work: Start, an outcome per unit (after a confirmation, with a note) and Finish are
 *   recorded in a queue in IndexedDB first, each with its own idempotency key, the
 *   visit's id, the serial and the day the sheet showed; the queue is sent in order when
 *   there is a connection (now, when it returns, and every 20 s), each request with its
 *   key, so the server applies each once however often it is sent. A sent item is never
 *   sent again.
 * - Shows: waiting items (yellow), sent work as done (green), and work the server refused
 *   (red, with its reason; the server keeps it for the support lead).
 * - The buttons show once the day has come, by the server's clock when the page was
 *   served or by the phone's clock in the day's zone: a day kept the evening before works
 *   offline in the morning (the server still refuses work sent before its day).
 * Settings come from <script type="application/json" id="field-app">: base, worker, day,
 * today, zone, keep.
 */
(function () {
  "use strict";

  var settingsNode = document.getElementById("field-app");
  if (!settingsNode) return;
  var app = JSON.parse(settingsNode.textContent);
  var DB_NAME = "fieldrecall-field";
  var STORE = "queue";
  var SYNC_EVERY_MS = 20000;
  var LABELS = {
    fixed: "fixed",
    unable_to_access: "unable to access",
    refused: "refused",
    not_found: "not found",
    waived: "waived by the support lead",
  };
  var FINAL = { fixed: true, unable_to_access: true, refused: true, not_found: true, waived: true };

  // Today's date (YYYY-MM-DD) by the phone's clock in the day's zone.
  function phoneToday() {
    try {
      var parts = new Intl.DateTimeFormat("en-CA", {
        timeZone: app.zone, year: "numeric", month: "2-digit", day: "2-digit",
      }).formatToParts(new Date());
      var part = function (type) {
        return parts.filter(function (p) { return p.type === type; })[0].value;
      };
      return part("year") + "-" + part("month") + "-" + part("day");
    } catch (error) {
      return app.today;
    }
  }

  function dayHasCome() {
    return !app.day || app.day <= app.today || app.day <= phoneToday();
  }

  // ---- the queue (IndexedDB) ------------------------------------------------------------

  var dbPromise = null;

  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = function () {
          var store = request.result.createObjectStore(STORE, { keyPath: "key" });
          store.createIndex("base", "base");
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
      });
    }
    return dbPromise;
  }

  function store(mode) {
    return db().then(function (database) {
      return database.transaction(STORE, mode).objectStore(STORE);
    });
  }

  function done(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function items() {
    return store("readonly")
      .then(function (s) { return done(s.index("base").getAll(app.base)); })
      .then(function (all) { return all.sort(function (a, b) { return a.seq - b.seq; }); });
  }

  function save(item) {
    return store("readwrite").then(function (s) { return done(s.put(item)); });
  }

  var counter = 0;

  function newKey() {
    // Random, from a source every browser has (randomUUID needs a secure context).
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "fa-" + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function record(fields) {
    var item = Object.assign(
      {
        key: newKey(),
        base: app.base,
        seq: Date.now() * 1000 + (counter++ % 1000),
        day: app.day,
        recorded_at: new Date().toISOString(),
        status: "waiting",
      },
      fields
    );
    return save(item).then(function () {
      render();
      sync();
      return item;
    });
  }

  // ---- sending ----------------------------------------------------------------------------

  function address(item) {
    var visit = app.base + "visits/" + item.visit_id;
    if (item.kind === "outcome") return visit + "/units/" + encodeURIComponent(item.serial) + "/outcome";
    return visit + "/" + item.kind;
  }

  function body(item) {
    var sent = { day: item.day, recorded_at: item.recorded_at };
    if (item.kind === "outcome") {
      sent.outcome = item.outcome;
      sent.note = item.note || null;
    }
    return JSON.stringify(sent);
  }

  function send(item) {
    return fetch(address(item), {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": item.key },
      body: body(item),
      credentials: "omit",
      cache: "no-store",
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (answer) {
        return { status: response.status, answer: answer };
      });
    });
  }

  var sending = null;
  var again = false; // something was recorded while the queue was being sent

  // Work left waiting under a link that no longer opens is this phone's technician's:
  // opened under a new link, the app takes it over and sends it (the server still checks
  // every visit against the new link's technician).
  function adopt() {
    return store("readonly")
      .then(function (s) { return done(s.getAll()); })
      .then(function (all) {
        var gone = {};
        all.forEach(function (item) {
          if (item.link_gone && item.base !== app.base) gone[item.base] = true;
        });
        var orphans = all.filter(function (item) { return gone[item.base] && item.status === "waiting"; });
        return Promise.all(orphans.map(function (item) {
          item.base = app.base;
          item.link_gone = false;
          return save(item);
        }));
      });
  }

  function drain() {
    return adopt().then(items).then(function (all) {
      var waiting = all.filter(function (item) { return item.status === "waiting"; });
      var chain = Promise.resolve(true);
      waiting.forEach(function (item) {
        chain = chain.then(function (goOn) {
          if (!goOn || !navigator.onLine) return false;
          return send(item).then(
            function (reply) { return settle(item, reply); },
            function () { return false; } // no connection after all: the rest waits
          );
        });
      });
      return chain;
    });
  }

  var linkGone = false; // the server said this link no longer opens

  function settle(item, reply) {
    var answer = reply.answer || {};
    if (reply.status === 404 && answer.link_gone) {
      // Not the work's fault: it waits, and goes out from the technician's new link.
      linkGone = true;
      item.link_gone = true;
      return save(item).then(function () { return false; });
    }
    if (reply.status >= 200 && reply.status < 300) {
      item.status = "sent";
      applyAnswer(answer);
    } else if ([403, 404, 409, 422].indexOf(reply.status) >= 0) {
      item.status = "conflict";
      item.detail = typeof answer.detail === "string" ? answer.detail : "refused (" + reply.status + ")";
      item.kept_for_lead = Boolean(answer.kept_for_lead);
    } else {
      return false; // the server is not answering well: try again later
    }
    item.sent_at = new Date().toISOString();
    return save(item).then(function () { return true; });
  }

  function sync() {
    if (sending) {
      again = true;
      return sending;
    }
    sending = (navigator.onLine ? drain() : Promise.resolve(false))
      .catch(function (error) { console.warn("field app: sync stopped", error); })
      .then(function () {
        sending = null;
        if (again) {
          again = false;
          return sync();
        }
        return render();
      });
    return sending;
  }

  // ---- what the server says ------------------------------------------------------------

  function stopOf(visitId) {
    return document.querySelector('li.stop[data-visit-id="' + visitId + '"]');
  }

  function applyAnswer(answer) {
    var stop = answer && stopOf(answer.visit_id);
    if (!stop) return;
    stop.dataset.status = answer.status;
    Object.keys(answer.units || {}).forEach(function (serial) {
      var unit = stop.querySelector('li.unit[data-serial="' + serial + '"]');
      if (unit) unit.dataset.state = answer.units[serial];
    });
  }

  // ---- showing ------------------------------------------------------------------------------

  function text(node, value) {
    if (node && node.textContent !== value) node.textContent = value;
  }

  function show(node, visible) {
    if (node) node.hidden = !visible;
  }

  function renderUnit(unit, stopStarted, stopFinished, queued) {
    var serial = unit.dataset.serial;
    var own = queued.filter(function (i) { return i.kind === "outcome" && i.serial === serial; });
    var live = own.filter(function (i) { return i.status !== "conflict"; });
    var refused = own.filter(function (i) { return i.status === "conflict"; });
    var latest = live.length ? live[live.length - 1] : null;
    var state = unit.dataset.state;
    var outcome = unit.dataset.done || (FINAL[state] ? state : null) || (latest && latest.outcome);
    // A unit that is not this visit's work (added to the recall since, or waiting for a
    // revisit or the lead) takes no outcome here and does not hold the finish back.
    var work = state === "scheduled" || state === "in_progress";
    unit.classList.toggle("done", Boolean(outcome) && !(latest && latest.status === "waiting"));
    unit.classList.toggle("waiting", Boolean(latest && latest.status === "waiting"));
    unit.classList.toggle("conflict", refused.length > 0 && !outcome);
    var shown = unit.querySelector(".state");
    if (unit.dataset.label === undefined) unit.dataset.label = shown.textContent;
    var label = outcome ? LABELS[outcome] || outcome : unit.dataset.label;
    text(shown, label);
    var note = unit.querySelector(".sync-note");
    if (latest && latest.status === "waiting") {
      text(note, "Waiting to send: " + LABELS[latest.outcome] + (navigator.onLine ? "" : " (no connection)"));
    } else if (refused.length) {
      var last = refused[refused.length - 1];
      text(note, "Not applied: " + last.detail + (last.kept_for_lead ? " (kept for the support lead)" : ""));
    } else {
      text(note, "");
    }
    show(note, Boolean(note && note.textContent));
    show(unit.querySelector(".outcomes"), work && stopStarted && !stopFinished && !outcome);
    return Boolean(outcome) || !work;
  }

  function renderStop(stop, queue, come) {
    var visitId = Number(stop.dataset.visitId);
    var queued = queue.filter(function (i) { return i.visit_id === visitId; });
    var live = queued.filter(function (i) { return i.status !== "conflict"; });
    // A refused start or finish: the visit is not the technician's to work any more (or
    // not yet); its buttons go, the reason stays.
    var blocked = queued.filter(function (i) { return i.status === "conflict" && i.kind !== "outcome"; });
    var status = stop.dataset.status;
    var finished = status === "finished" || live.some(function (i) { return i.kind === "finish"; });
    var started = finished || status === "started" || live.length > 0;
    var open = !blocked.length;
    var workable = open && come;
    var units = Array.prototype.slice.call(stop.querySelectorAll("li.unit"));
    var left = units.filter(function (unit) {
      return !renderUnit(unit, started && workable, finished, queued);
    }).length;
    show(stop.querySelector("button.start"), workable && !started);
    var finish = stop.querySelector("button.finish");
    show(finish, workable && started && !finished);
    if (finish) {
      finish.disabled = left > 0;
      text(finish, left > 0 ? "Finish stop (" + left + (left === 1 ? " unit" : " units") + " to go)" : "Finish stop");
    }
    var waitingFinish = live.some(function (i) { return i.kind === "finish" && i.status === "waiting"; });
    var note = stop.querySelector(".stop-note");
    var words = "";
    if (!open) {
      words = "Not applied: " + blocked[blocked.length - 1].detail +
        " (kept for the support lead). Open this day again with a connection to see it as now planned.";
    } else if (finished) {
      words = waitingFinish ? "Finished, waiting to send" : "Finished";
    }
    text(note, words);
    show(note, Boolean(words));
    stop.classList.toggle("conflict", !open);
    text(stop.querySelector(".stop-status"), finished ? "finished" : started ? "started" : status);
    stop.dataset.shown = finished ? "finished" : started ? "started" : "planned";
  }

  function render() {
    return items().then(function (queue) {
      var come = dayHasCome();
      show(document.getElementById("not-yet"), !come);
      Array.prototype.forEach.call(document.querySelectorAll("li.stop[data-visit-id]"), function (stop) {
        renderStop(stop, queue, come);
      });
      var waiting = queue.filter(function (i) { return i.status === "waiting"; }).length;
      var refused = queue.filter(function (i) { return i.status === "conflict"; });
      var badge = document.getElementById("sync-state");
      if (badge) {
        badge.dataset.waiting = String(waiting);
        badge.dataset.conflicts = String(refused.length);
        badge.dataset.state = refused.length ? "conflict" : waiting ? "waiting" : navigator.onLine ? "online" : "offline";
        var words = navigator.onLine ? "Online" : "Offline";
        if (waiting) words += " · " + waiting + " waiting to send";
        else if (navigator.onLine) words += " · all sent";
        if (refused.length) words += " · " + refused.length + " not applied";
        text(badge, words);
      }
      var banner = document.getElementById("conflicts");
      if (banner) {
        var says = "";
        if (linkGone && waiting) {
          says = "This link no longer opens: it has expired or was revoked. Your " + waiting +
            " waiting records stay on this phone: ask the support lead for a new link and open it here; they are sent from there.";
        } else if (refused.length) {
          says = refused.length + " of your records could not be applied; each one says why below. They are kept for the support lead, who will sort them out.";
        }
        text(banner, says);
        show(banner, Boolean(says));
      }
    });
  }

  // ---- buttons ------------------------------------------------------------------------------

  var dialog = document.getElementById("confirm");
  var pending = null;

  function ask(title, question, withNote, then) {
    if (!dialog) return;
    pending = then;
    text(document.getElementById("confirm-title"), title);
    text(document.getElementById("confirm-text"), question);
    var note = document.getElementById("confirm-note");
    note.value = "";
    show(note, withNote);
    show(dialog.querySelector('label[for="confirm-note"]'), withNote);
    dialog.showModal();
  }

  function answerDialog(ok) {
    var then = pending;
    pending = null;
    var note = document.getElementById("confirm-note").value.trim();
    dialog.close();
    if (ok && then) then(note);
  }

  if (dialog) {
    document.getElementById("confirm-ok").addEventListener("click", function () { answerDialog(true); });
    document.getElementById("confirm-cancel").addEventListener("click", function () { answerDialog(false); });
    dialog.addEventListener("cancel", function () { pending = null; });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-action], button[data-outcome]");
    if (!button) return;
    var stop = button.closest("li.stop");
    var visitId = Number(stop.dataset.visitId);
    var site = "stop " + stop.dataset.seq + ", " + stop.dataset.site;
    if (button.dataset.action === "start") {
      record({ kind: "start", visit_id: visitId });
    } else if (button.dataset.action === "finish") {
      ask("Finish this stop?", site + ": every unit has its outcome. The partner is told what was done.", false,
        function () { record({ kind: "finish", visit_id: visitId }); });
    } else {
      var serial = button.closest("li.unit").dataset.serial;
      var outcome = button.dataset.outcome;
      ask(serial + ": " + LABELS[outcome] + "?", "Record " + serial + " at " + site + " as " + LABELS[outcome] +
        ". An outcome cannot be changed once recorded.", true,
        function (note) { record({ kind: "outcome", visit_id: visitId, serial: serial, outcome: outcome, note: note }); });
    }
  });

  // ---- offline pages ------------------------------------------------------------------------

  function assets() {
    var found = [];
    Array.prototype.forEach.call(document.querySelectorAll("script[src], link[href]"), function (node) {
      var url = node.src || node.href;
      if (url && url.indexOf(location.origin + "/") === 0) found.push(url);
    });
    return found;
  }

  function keepOffline() {
    if (!("serviceWorker" in navigator) || !navigator.onLine) return Promise.resolve();
    return navigator.serviceWorker.register(app.worker, { scope: app.base })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (registration) {
        return new Promise(function (resolve) {
          var channel = new MessageChannel();
          channel.port1.onmessage = function (event) { resolve(event.data); };
          registration.active.postMessage({ type: "keep", urls: app.keep.concat(assets()) }, [channel.port2]);
        });
      })
      .then(function (kept) {
        document.body.dataset.offline = kept && kept.failed === 0 ? "kept" : "partly";
        document.body.dataset.kept = String(kept ? kept.kept : 0);
      })
      .catch(function (error) {
        document.body.dataset.offline = "unavailable";
        console.warn("field app: offline use unavailable", error);
      });
  }

  // Sending the queue, then keeping the pages again (they show the work just sent).
  var settled = Promise.resolve();

  function syncAndKeep() {
    settled = sync().then(keepOffline);
    return settled;
  }

  window.addEventListener("online", syncAndKeep);
  window.addEventListener("offline", render);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") sync();
  });
  setInterval(sync, SYNC_EVERY_MS);
  window.fieldApp = {
    sync: sync,
    items: items,
    render: render,
    settled: function () { return settled; },
  };
  syncAndKeep();
})();

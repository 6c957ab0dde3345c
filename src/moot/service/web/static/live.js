// A run, live: follow /ui/runs/{id}/events and apply each message to the page.
//
// The server renders everything (the transcript line an event adds, the panels it changed); this
// module only puts the pieces in place, highlights the working agent in the graph and the stage
// in the strip, and keeps the stream going: after a drop or a server restart it reconnects with
// the last applied id, and a line is keyed by its event id, so a replay never shows it twice.
// `window.moot.applied` records {id, kind, ts, shown} per applied event (the speed bench reads it).
(function () {
  "use strict";
  window.moot = window.moot || { applied: [] };
  var root = document.getElementById("run");
  if (!root) return;
  var transcript = document.getElementById("transcript");
  var note = document.getElementById("live-note");
  var stageAgents = JSON.parse(root.getAttribute("data-stage-agents") || "{}");
  var last = root.getAttribute("data-last") || "";
  var seen = {};
  var source = null;
  var delay = 500; // ms before a reconnect; doubles while the server stays away, up to 8 s
  var TERMINAL = { run_finished: 1, run_failed: 1, run_cancelled: 1 };

  Array.prototype.forEach.call(transcript.querySelectorAll("[data-id]"), function (li) { seen[li.getAttribute("data-id")] = 1; });

  function fragment(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content;
  }

  function replacePanel(name, html) {
    var box = document.getElementById("panel-" + name);
    if (!box) return;
    var focused = document.activeElement && box.contains(document.activeElement);
    if (focused) return; // never pull a form from under the person typing in it
    box.replaceChildren(fragment(html));
  }

  function highlight(snap) {
    var busy = {};
    (snap.agents || []).forEach(function (a) { busy[a] = 1; });
    var inStage = {};
    (stageAgents[snap.stage] || []).forEach(function (a) { inStage[a] = 1; });
    Array.prototype.forEach.call(document.querySelectorAll("#graph [data-node]"), function (g) {
      var name = g.getAttribute("data-node");
      g.classList.toggle("busy", !!busy[name]);
      g.classList.toggle("in-stage", !!inStage[name]);
    });
  }

  function apply(msg) {
    if (seen[msg.id]) return;
    seen[msg.id] = 1;
    if (msg.line) transcript.appendChild(fragment(msg.line));
    Object.keys(msg.panels || {}).forEach(function (name) { replacePanel(name, msg.panels[name]); });
    if (msg.snap) highlight(msg.snap);
    window.moot.applied.push({ id: msg.id, kind: msg.kind, ts: msg.ts, shown: Date.now() / 1000 });
    if (TERMINAL[msg.kind]) stop("The run has ended.");
  }

  function stop(text) {
    if (source) source.close();
    source = null;
    note.textContent = text;
  }

  function connect() {
    var url = root.getAttribute("data-stream") + (last ? "?after=" + encodeURIComponent(last) : "");
    source = new EventSource(url);
    source.onopen = function () { note.textContent = "Live."; delay = 500; };
    source.onmessage = function (e) {
      apply(JSON.parse(e.data));
      if (e.lastEventId) last = e.lastEventId; // a seed from the checkpoint has no id of the log
    };
    source.onerror = function () {
      // closed for good (an error answer) or dropped: reconnect ourselves from the last applied id
      if (!source) return;
      source.close();
      source = null;
      note.textContent = "Connection lost; reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 8000);
    };
  }

  if (root.getAttribute("data-ended") !== "true") connect();
})();

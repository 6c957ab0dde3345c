// The runs page: the status of runs still going, refreshed every 2 s by one small JSON poll.
(function () {
  "use strict";
  var ENDED = { finished: 1, failed: 1, cancelled: 1 };
  function cells() { return Array.prototype.slice.call(document.querySelectorAll("[data-live]")); }
  function poll() {
    var live = cells();
    if (!live.length) return;
    var ids = live.map(function (c) { return c.getAttribute("data-live"); }).join(",");
    fetch("/ui/runs/status?ids=" + encodeURIComponent(ids), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { runs: {} }; })
      .then(function (body) {
        live.forEach(function (cell) {
          var status = body.runs[cell.getAttribute("data-live")];
          if (!status || status === cell.textContent) return;
          cell.textContent = status;
          cell.className = "status status-" + status;
          if (ENDED[status]) cell.removeAttribute("data-live");
        });
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();

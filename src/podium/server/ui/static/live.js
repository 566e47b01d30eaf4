// podium: refresh the live part of a page without reloading it.
// An element with data-live="URL" is replaced by the HTML fragment at URL every 1.5 s
// (every 5 s once the fragment says data-final="yes"). Without this script the page is
// still complete; it just does not change until reloaded.
(function () {
  "use strict";
  var FAST = 1500, SLOW = 5000;

  function follow(el) {
    var url = el.getAttribute("data-live");
    var last = null;

    function delay() {
      var done = el.querySelector('[data-final="yes"]');
      return done ? SLOW : FAST;
    }

    function tick() {
      if (document.hidden) { return setTimeout(tick, delay()); }
      fetch(url, { credentials: "same-origin", headers: { "X-Podium-Live": "1" } })
        .then(function (r) {
          if (!r.ok || r.headers.get("X-Podium-Fragment") !== "1") { throw new Error("no fragment"); }
          return r.text();
        })
        .then(function (html) {
          if (html !== last) {
            last = html;
            var open = openDetails(el);
            el.innerHTML = html;
            reopen(el, open);
          }
          el.removeAttribute("data-live-error");
        })
        .catch(function () { el.setAttribute("data-live-error", "yes"); })
        .then(function () { setTimeout(tick, delay()); });
    }
    setTimeout(tick, delay());
  }

  // keep <details> a person opened open across refreshes
  function openDetails(el) {
    var open = [];
    el.querySelectorAll("details").forEach(function (d, i) { if (d.open) { open.push(i); } });
    return open;
  }
  function reopen(el, open) {
    var all = el.querySelectorAll("details");
    open.forEach(function (i) { if (all[i]) { all[i].open = true; } });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(follow);
  });
})();

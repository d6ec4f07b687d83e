/* callrouter staff pages: one poller for every page that refreshes itself (console, wallboard).
   It fetches `url` every `every` ms, hands the body to `onData`, and owns what the pages share:
   a pause control (aria-pressed, its state in words), a 401 that stops polling and says why, and
   errors in the page's role=alert box without moving focus. No inline script: a file under a strict CSP. */
(function () {
  "use strict";

  /* options: url, every (ms), accept ("application/json" or "text/html"), toggle, stateText, alertBox,
     what (the Dutch noun for what refreshes, e.g. "gegevens"), onData(body), errorText. */
  window.callrouterPoller = function (options) {
    var paused = false;
    var timer = null;
    var json = options.accept === "application/json";

    function describe() {
      options.stateText.textContent = paused
        ? "Verversen staat op pauze."
        : "Deze " + options.what + " verversen elke " + options.every / 1000 + " seconden.";
    }

    function schedule() {
      window.clearTimeout(timer);
      if (!paused) { timer = window.setTimeout(refresh, options.every); }
    }

    function refresh() {
      fetch(options.url, { credentials: "same-origin", headers: { "Accept": options.accept } })
        .then(function (response) {
          if (response.status === 401) {
            paused = true;
            options.alertBox.textContent = "Uw sessie is verlopen. Log opnieuw in om verder te gaan.";
            describe();
            return null;
          }
          if (!response.ok) { throw new Error("status " + response.status); }
          return json ? response.json() : response.text();
        })
        .then(function (body) {
          if (body === null || paused) { return; }
          options.alertBox.textContent = "";
          options.onData(body);
        })
        .catch(function () {
          options.alertBox.textContent = options.errorText;
        })
        .finally(schedule);
    }

    options.toggle.hidden = false;
    options.toggle.addEventListener("click", function () {
      paused = !paused;
      options.toggle.setAttribute("aria-pressed", paused ? "true" : "false");
      options.toggle.textContent = paused ? "Verversen hervatten" : "Verversen pauzeren";
      describe();
      if (paused) { window.clearTimeout(timer); } else { refresh(); }
    });
    describe();
    schedule();
  };
})();

/* callrouter console: refreshes the live part, announces new calls and errors without moving focus,
   and warns before the session ends. No inline script: loaded as a file under a strict CSP. */
(function () {
  "use strict";

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }

  var csrf = meta("csrf-token");
  var expiresAt = Number(meta("session-expires-at") || 0);
  var warnSeconds = Number(meta("session-warn-seconds") || 120);

  /* -- live part (polling and pausing: poller.js) -------------------------------------------- */
  function startLive() {
    var live = document.getElementById("live");
    if (!live) { return; }
    var status = document.getElementById("live-status");
    var current = live.querySelector("[data-call-sid]");
    var lastCall = current ? current.getAttribute("data-call-sid") : "";
    var lastAsk = current ? current.getAttribute("data-ask-sid") : "";

    window.callrouterPoller({
      url: live.getAttribute("data-live-url"),
      every: Number(live.getAttribute("data-poll-seconds") || 10) * 1000,
      accept: "text/html",
      toggle: document.getElementById("refresh-toggle"),
      stateText: document.getElementById("refresh-state"),
      alertBox: document.getElementById("live-alert"),
      what: "gegevens",
      errorText: "Fout: de gegevens konden niet worden ververst. We proberen het opnieuw.",
      onData: function (html) {
        if (live.contains(document.activeElement) && document.activeElement !== document.body) {
          return; /* never pull the content away under the keyboard focus; next round */
        }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("[data-call-sid]");
        if (!fresh) { return; }
        var sid = fresh.getAttribute("data-call-sid");
        live.replaceChildren(fresh);
        expiresAt = Number(fresh.getAttribute("data-expires-at") || expiresAt);
        var ask = fresh.getAttribute("data-ask-sid") || "";
        if (sid && sid !== lastCall) {
          status.textContent = fresh.getAttribute("data-call-summary") || "Nieuw gesprek.";
        } else if (ask && ask !== lastAsk) {
          status.textContent = "Het gesprek is afgelopen. Leg de uitkomst vast.";
        }
        lastCall = sid;
        lastAsk = ask;
      }
    });
  }

  /* -- session expiry warning ----------------------------------------------------------------- */
  function startSessionWatch() {
    var box = document.getElementById("session-warning");
    var say = document.getElementById("session-warning-text");
    var body = document.getElementById("session-warning-body");
    var extend = document.getElementById("session-extend");
    if (!box || !expiresAt) { return; }
    var warned = false;

    extend.addEventListener("click", function () {
      fetch("/staff/sessie/verlengen", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (data) {
          expiresAt = data.expires_at;
          warned = false;
          box.hidden = true;
          say.textContent = "Uw sessie is verlengd.";
        })
        .catch(function () { say.textContent = "Fout: verlengen lukte niet. Log opnieuw in."; });
    });

    window.setInterval(function () {
      var left = Math.round(expiresAt - Date.now() / 1000);
      if (left <= 0) {
        box.hidden = false;
        extend.hidden = true;
        body.textContent = "Uw sessie is verlopen.";
        if (warned !== "expired") { say.textContent = "Uw sessie is verlopen. Log opnieuw in."; warned = "expired"; }
      } else if (left <= warnSeconds) {
        box.hidden = false;
        body.textContent = "Uw sessie verloopt over " + left + " seconden.";
        if (!warned) {
          say.textContent = "Uw sessie verloopt over ongeveer " + Math.ceil(left / 60) + " minuten. Kies Sessie verlengen om door te gaan.";
          warned = true;
        }
      }
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    startLive();
    startSessionWatch();
  });
})();

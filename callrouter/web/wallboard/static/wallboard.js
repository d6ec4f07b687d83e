/* The wallboard: fetches the live figures as JSON every few seconds (poller.js) and writes them in
   as text. A pause control stops it; changes are announced in a role=status line, errors in role=alert,
   and focus never moves. No inline script: loaded as a file under a strict CSP. */
(function () {
  "use strict";

  function setText(selector, value) {
    var el = document.querySelector(selector);
    if (el && el.textContent !== value) { el.textContent = value; }
  }

  function fillBody(body, rows, columns, empty) {
    var fresh = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.cells.forEach(function (cell, index) {
        var td = document.createElement(index === 0 ? "th" : "td");
        if (index === 0) { td.setAttribute("scope", "row"); }
        td.textContent = cell;
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    if (!rows.length) {
      var tr = document.createElement("tr");
      var td = document.createElement("td");
      td.setAttribute("colspan", String(columns));
      td.textContent = empty;
      tr.appendChild(td);
      fresh.appendChild(tr);
    }
    body.replaceChildren(fresh);
  }

  function start() {
    var board = document.getElementById("wallboard");
    if (!board) { return; }
    var status = document.getElementById("wall-status");
    var last = {};
    document.querySelectorAll("[data-state]").forEach(function (el) {
      last[el.getAttribute("data-state")] = el.textContent.trim();
    });
    var waitingEl = document.querySelector('[data-figure="waiting"]');
    var lastWaiting = waitingEl ? waitingEl.textContent.trim() : "";

    function apply(data) {
      var changes = [];
      data.figures.forEach(function (f) {
        setText('[data-figure="' + f.key + '"]', f.shown);
        setText('[data-target="' + f.key + '"]', f.target);
        setText('[data-definition="' + f.key + '"]', f.definition);
        var state = document.querySelector('[data-state="' + f.key + '"]');
        if (state) {
          state.textContent = f.state_text;
          state.className = "state state--" + f.state;
        }
        var box = document.querySelector('[data-figure-box="' + f.key + '"]');
        if (box) { box.className = "figure figure--" + f.state; }
        if (last[f.key] !== undefined && last[f.key] !== f.state_text && f.state !== "info") {
          changes.push(f.label + ": nu " + f.state_text + ".");
        }
        last[f.key] = f.state_text;
        if (f.key === "waiting" && f.shown !== lastWaiting) {
          changes.unshift("Wachtende gesprekken: " + f.shown + ".");
          lastWaiting = f.shown;
        }
      });
      fillBody(document.getElementById("wall-rows"), data.rows, 9, "Vandaag nog geen gesprekken in een wachtrij.");
      fillBody(document.getElementById("wall-liaisons"), data.liaisons, 6, "Geen organisaties.");
      setText("#wall-updated", data.updated);
      if (changes.length) { status.textContent = changes.join(" "); }
    }

    window.callrouterPoller({
      url: board.getAttribute("data-live-url"),
      every: Number(board.getAttribute("data-refresh-seconds") || 10) * 1000,
      accept: "application/json",
      toggle: document.getElementById("wall-toggle"),
      stateText: document.getElementById("wall-refresh-state"),
      alertBox: document.getElementById("wall-alert"),
      what: "cijfers",
      errorText: "Fout: de cijfers konden niet worden ververst. We proberen het opnieuw.",
      onData: apply
    });
  }

  document.addEventListener("DOMContentLoaded", start);
})();

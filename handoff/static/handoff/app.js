// Small enhancements only: every form works without this file.
(function () {
  "use strict";

  // A reason that needs a note (e.g. "Other") makes the note required; the note is always there to fill in.
  function syncNote(select) {
    var scope = select.closest("fieldset, form");
    if (!scope) return;
    var option = select.options[select.selectedIndex];
    var needs = !!(option && option.dataset.requiresNote);
    scope.querySelectorAll("[data-note] textarea, [data-note] input, [data-note-input]").forEach(function (input) {
      input.required = needs;
      if (!input.dataset.placeholder) input.dataset.placeholder = input.placeholder || "Note";
      input.placeholder = needs ? "Note (required for this reason)" : input.dataset.placeholder;
    });
  }
  document.querySelectorAll("select[data-reason]").forEach(function (select) {
    syncNote(select);
    select.addEventListener("change", function () { syncNote(select); });
  });

  function tickedIn(form) {
    return document.querySelectorAll('input[type=checkbox][form="' + form.id + '"]:checked').length;
  }

  // A bulk button with nothing ticked says so at once (before the browser asks for a reason or a rep).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-needs-ticks]");
    if (!button || !button.form) return;
    var status = button.form.querySelector("[data-bulk-status]");
    if (tickedIn(button.form) === 0) {
      event.preventDefault();
      if (status) status.textContent = "Tick the leads first.";
      var first = document.querySelector('input[type=checkbox][form="' + button.form.id + '"]');
      if (first) first.focus();
    } else if (status) {
      status.textContent = "";
    }
  });

  // Ask before what cannot be undone; bulk forms say how many rows are ticked.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter || null;
    var message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
    var bulk = (submitter && submitter.dataset.confirmBulk) || (form.id === "bulk" && form.dataset.confirmBulk);
    if (bulk) {
      var ticked = tickedIn(form);
      if (ticked === 0) {
        event.preventDefault();
        var status = form.querySelector("[data-bulk-status]");
        if (status) status.textContent = "Tick the leads first.";
        return;
      }
      message = bulk.replace("{count}", ticked);
    }
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // One box ticks every row of the page.
  document.querySelectorAll("[data-check-all]").forEach(function (all) {
    var form = all.form || all.closest("form");
    all.addEventListener("change", function () {
      document.querySelectorAll('input[type=checkbox][form="' + form.id + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });

  // The page's one action dialog: a link marked data-dialog opens it with that action's fields, posting to the
  // link's address (without script the link opens the action's own page).
  var dialog = document.getElementById("action-dialog");
  if (dialog && typeof dialog.showModal === "function") {
    var form = dialog.querySelector("form");
    var title = dialog.querySelector("[data-dialog-title]");
    var opener = null;
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[data-dialog]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      var part = form.querySelector('fieldset[data-for="' + link.dataset.dialog + '"]');
      if (!part) return;
      event.preventDefault();
      form.reset();
      form.querySelectorAll("fieldset[data-for]").forEach(function (each) {
        var on = each === part;
        each.disabled = !on;
        each.hidden = !on;
      });
      var row = link.closest("[data-lead]");
      title.textContent = part.dataset.title.replace("{lead}", row ? row.dataset.lead : "this lead");
      form.action = link.pathname;
      part.querySelectorAll("select[data-reason]").forEach(syncNote);
      opener = link;
      dialog.showModal();
      var first = part.querySelector("select, textarea, input");
      if (first) first.focus();
    });
    dialog.querySelectorAll("[data-dialog-close]").forEach(function (button) {
      button.addEventListener("click", function () { dialog.close(); });
    });
    dialog.addEventListener("close", function () {
      if (opener) opener.focus();
    });
  }
})();

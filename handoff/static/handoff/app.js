// Small enhancements only: every form works without this file.
(function () {
  "use strict";

  // A reason that needs a note (e.g. "Other") shows the note field and makes it required.
  function syncNote(select) {
    var form = select.form;
    if (!form) return;
    var option = select.options[select.selectedIndex];
    var needs = !!(option && option.dataset.requiresNote);
    form.querySelectorAll("[data-note]").forEach(function (wrap) {
      if (!wrap.hasAttribute("data-keep")) wrap.hidden = !needs;
      var input = wrap.querySelector("textarea, input");
      if (input) {
        input.required = needs;
        if (needs) input.placeholder = "Note (required for this reason)";
      }
    });
  }

  document.querySelectorAll("select[data-reason]").forEach(function (select) {
    syncNote(select);
    select.addEventListener("change", function () { syncNote(select); });
  });

  // Ask before a form that cannot be undone; bulk forms say how many rows are ticked.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.dataset.confirm;
    if (form.dataset.confirmBulk) {
      var ticked = document.querySelectorAll('input[type=checkbox][form="' + form.id + '"]:checked').length;
      if (ticked === 0) {
        event.preventDefault();
        window.alert("Tick the leads first.");
        return;
      }
      message = form.dataset.confirmBulk.replace("{count}", ticked);
    }
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // One box ticks every row.
  document.querySelectorAll("[data-check-all]").forEach(function (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[type=checkbox][name="handoffs"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });

  // Only one action popover open at a time.
  document.addEventListener("toggle", function (event) {
    var opened = event.target;
    if (!opened.matches || !opened.matches("details.popover") || !opened.open) return;
    document.querySelectorAll("details.popover[open]").forEach(function (other) {
      if (other !== opened) other.open = false;
    });
  }, true);
})();

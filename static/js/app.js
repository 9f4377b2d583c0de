// PayerWatch's only script (CSP forbids inline script). Progressive enhancement:
// every page works without it.
(function () {
  "use strict";

  // <body data-autorefresh="30"> or any element with it: reload the page every N seconds.
  function autorefresh() {
    var el = document.querySelector("[data-autorefresh]");
    if (!el) return;
    var seconds = parseInt(el.getAttribute("data-autorefresh"), 10);
    if (!(seconds > 0)) return;
    window.setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  // <form data-confirm="Delete this upload?">: ask before submitting.
  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  // <button data-copy="#token">: copy the text of the target to the clipboard.
  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.querySelector(button.getAttribute("data-copy"));
        if (target && navigator.clipboard) {
          navigator.clipboard.writeText(target.textContent.trim());
          button.textContent = "Copied";
        }
      });
    });
  }

  // <input type="checkbox" data-tick-all="alert_id">: ticks or unticks every checkbox of
  // that name in its form, and shows whether all, some or none are ticked. Without script
  // the server reads it as "every alert on this page".
  function tickAll() {
    document.querySelectorAll("input[data-tick-all]").forEach(function (all) {
      var form = all.form;
      if (!form) return;
      var boxes = form.querySelectorAll('input[type="checkbox"][name="' + all.getAttribute("data-tick-all") + '"]');
      function sync() {
        var ticked = 0;
        boxes.forEach(function (b) { if (b.checked) ticked += 1; });
        all.checked = boxes.length > 0 && ticked === boxes.length;
        all.indeterminate = ticked > 0 && ticked < boxes.length;
      }
      all.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = all.checked; });
        all.indeterminate = false;
      });
      boxes.forEach(function (b) { b.addEventListener("change", sync); });
      sync();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    autorefresh();
    confirmations();
    copyButtons();
    tickAll();
  });
})();

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

  document.addEventListener("DOMContentLoaded", function () {
    autorefresh();
    confirmations();
    copyButtons();
  });
})();

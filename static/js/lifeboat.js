// Lifeboat's only script of its own (a static file: the Content-Security-Policy allows no inline script).
// Flash messages go away: each has a dismiss button, and good news hides itself after a while; errors and
// warnings stay until dismissed, so nobody misses them.
(function () {
  "use strict";
  var AUTO_HIDE_MS = 8000;

  function dismiss(message) {
    if (message && message.parentNode) message.parentNode.removeChild(message);
  }

  function scheduleAutoHide(root) {
    root.querySelectorAll(".message[data-auto-hide]:not([data-hiding])").forEach(function (message) {
      message.setAttribute("data-hiding", "");
      window.setTimeout(function () { dismiss(message); }, AUTO_HIDE_MS);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) dismiss(button.closest(".message"));
  });
  document.addEventListener("DOMContentLoaded", function () { scheduleAutoHide(document); });
  document.addEventListener("htmx:afterSettle", function (event) { scheduleAutoHide(event.target); });
})();

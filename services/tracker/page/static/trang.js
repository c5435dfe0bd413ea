// Progressive enhancement only: the form works without this file. A second click while the first lookup
// is on its way would send a second lookup, and a failed one spends the citizen's budget twice.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("tra-cuu");
  if (!form) {
    return;
  }
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function () {
    if (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    }
  });
  // Coming back with the browser's Back button shows the page from its cache: enable the button again.
  window.addEventListener("pageshow", function () {
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
});

// simgate dashboard, part B: "Copy" buttons next to a secret shown once. A button with
// data-copy="<input id>" copies that input's value and says so in the status next to it.
"use strict";
(function () {
  function copied(button, text) {
    var status = button.parentNode.querySelector(".copied");
    if (status) status.textContent = text;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { copied(button, "Copied."); },
        function () { copied(button, "Select the text and copy it."); }
      );
    } else {
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      copied(button, ok ? "Copied." : "Select the text and copy it.");
    }
  });
})();

// simgate dashboard: the phone menu toggle. Loaded from simgate itself (the pages' Content
// Security Policy allows no inline script).
"use strict";
(function () {
  document.documentElement.classList.remove("no-js");
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector(".menu-button");
    var menu = document.getElementById("menu");
    if (!button || !menu) return;
    button.addEventListener("click", function () {
      var open = menu.classList.toggle("open");
      button.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
})();

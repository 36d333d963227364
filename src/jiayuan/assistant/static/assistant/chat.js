// The chat pages: scroll to the latest answer, send the question with Enter (Shift+Enter
// for a new line) and keep the button from being pressed twice. No user text is written
// into the page here: the server renders it escaped.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var form = document.getElementById("ask-form");
    if (!form) { return; }
    var box = form.querySelector("textarea[name=question]");
    var button = form.querySelector("button");
    var asks = document.querySelectorAll("[data-testid=ask]");
    if (asks.length && !window.location.hash) { asks[asks.length - 1].scrollIntoView({ block: "end" }); }
    if (box) {
      box.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          if (box.value.trim()) { form.requestSubmit(); }
        }
      });
    }
    form.addEventListener("submit", function () {
      if (button) { button.disabled = true; button.textContent = "正在回答…"; }
    });
  });
})();

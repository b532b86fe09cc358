// iOS Safari and WeChat apply :active styles (WeUI's pressed buttons) only when the page listens for
// touchstart; an empty listener here replaces the inline `ontouchstart` the Content-Security-Policy forbids.
document.addEventListener("touchstart", function () {}, { passive: true });
// The staff pages' behaviour, kept out of the templates (a Content-Security-Policy can forbid inline
// scripts). Every page works without it.
(function () {
  // A second tap while the first submit is on its way does nothing (the server also refuses doubles).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[data-once]");
      if (button) {
        setTimeout(function () {
          button.disabled = true;
          button.classList.add("weui-btn_loading");
        }, 0);
      }
    });
  });
  // Back to a page kept in the browser's cache: its buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("[data-once]").forEach(function (button) {
      button.disabled = false;
      button.classList.remove("weui-btn_loading");
    });
  });
})();

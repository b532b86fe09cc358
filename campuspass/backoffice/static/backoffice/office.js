// The back office's few behaviours, from data attributes (no inline handlers: the Content-Security-Policy
// allows scripts only from this site or with the page's nonce).
//   data-confirm="…"   on a form or a submit button: ask before submitting
//   data-print         on a button: print the page
//   data-autosubmit    on a select: submit its form when changed
//   data-check-all="x" on a checkbox: tick or untick every input[name=x] of its table
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var button = target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    if (target.closest("[data-print]")) {
      window.print();
      return;
    }
    var all = target.closest("input[data-check-all]");
    if (all) {
      var name = all.getAttribute("data-check-all");
      all.closest("table").querySelectorAll('input[name="' + name + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    }
  });
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (form instanceof HTMLFormElement && form.hasAttribute("data-confirm") &&
          !window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target instanceof Element && target.matches("select[data-autosubmit]") && target.form) {
      target.form.submit();
    }
  });
})();

// 审核 page: keys A / R / 1–9 / N / Z / Q; 审核通过 waits 5 seconds with 撤销 (issue 14); Ctrl+Enter
// submits the rejection; the zoomed photo opens centred. Kept out of the template (CSP).
(function () {
  var UNDO_SECONDS = 5;
  var approve = document.getElementById("approve-form");
  var reject = document.getElementById("reject-form");
  var skip = document.getElementById("skip-form");
  var nextLink = document.getElementById("next-link");
  var photo = document.getElementById("id-photo");
  var overlay = document.getElementById("photo-overlay");
  var big = document.getElementById("photo-big");
  var undoBox = document.getElementById("undo-box");
  var undoSeconds = document.getElementById("undo-seconds");
  var undoButton = document.getElementById("undo-btn");
  var rotation = 0;
  var busy = false;
  var pending = null; // the countdown of an approval that can still be undone

  function submitOnce(form) {
    if (busy || !form) return;
    busy = true;
    form.submit();
  }
  function reasonGiven() {
    return reject && (reject.querySelector("input[name=reason]:checked") || reject.note.value.trim());
  }
  function startApproval() {
    if (!approve || busy || pending) return;
    if (reasonGiven() && !window.confirm("已勾选或填写了不通过原因，确定要审核通过吗？")) return;
    var left = UNDO_SECONDS;
    undoSeconds.textContent = left;
    undoBox.hidden = false;
    document.getElementById("approve-btn").disabled = true;
    pending = setInterval(function () {
      left -= 1;
      undoSeconds.textContent = left;
      if (left <= 0) {
        clearInterval(pending);
        pending = null;
        submitOnce(approve);
      }
    }, 1000);
  }
  function undoApproval() {
    if (!pending) return false;
    clearInterval(pending);
    pending = null;
    undoBox.hidden = true;
    document.getElementById("approve-btn").disabled = false;
    return true;
  }
  function openZoom() {
    if (!photo) return;
    big.src = photo.src;
    big.style.transform = "rotate(" + rotation + "deg)";
    overlay.hidden = false;
    var centre = function () {
      overlay.scrollLeft = (overlay.scrollWidth - overlay.clientWidth) / 2;
      overlay.scrollTop = (overlay.scrollHeight - overlay.clientHeight) / 2;
    };
    if (big.complete) centre(); else big.addEventListener("load", centre, { once: true });
  }
  function closeZoom() { overlay.hidden = true; }
  function rotate() {
    if (!photo) return;
    rotation = (rotation + 90) % 360;
    photo.style.transform = "rotate(" + rotation + "deg)";
    big.style.transform = "rotate(" + rotation + "deg)";
  }
  if (photo) {
    document.getElementById("photo-frame").addEventListener("click", openZoom);
    document.getElementById("zoom-btn").addEventListener("click", openZoom);
    document.getElementById("rotate-btn").addEventListener("click", rotate);
  }
  overlay.addEventListener("click", closeZoom);
  if (approve) {
    approve.addEventListener("submit", function (e) {
      if (busy) return; // the countdown's own submit
      e.preventDefault();
      startApproval();
    });
  }
  if (undoButton) undoButton.addEventListener("click", undoApproval);
  if (reject) {
    reject.addEventListener("submit", function (e) {
      if (!reasonGiven()) {
        e.preventDefault();
        alert("请选择或填写不通过的原因，职工会在短信中看到它。");
        reject.note.focus();
        return;
      }
      busy = true;
    });
  }
  if (skip) skip.addEventListener("submit", function () { busy = true; });

  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter" && reject && reject.contains(e.target)) {
      e.preventDefault();
      reject.requestSubmit();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var tag = (e.target.tagName || "").toLowerCase();
    var typing = tag === "textarea" || (tag === "input" && e.target.type !== "checkbox") || tag === "select";
    if (e.key === "Escape") {
      if (undoApproval()) return;
      closeZoom();
      if (typing) e.target.blur();
      return;
    }
    if (typing) return;
    var key = e.key.toLowerCase();
    if (key === "a" && approve) { e.preventDefault(); startApproval(); }
    else if (key === "r" && reject) {
      e.preventDefault();
      var first = document.getElementById("first-reason");
      (first || reject.note).focus();
      reject.scrollIntoView({ block: "nearest" });
    }
    else if (key === "n" || key === "j") {
      e.preventDefault();
      if (skip) submitOnce(skip); else if (nextLink) window.location = nextLink.href;
    }
    else if (key === "z") { e.preventDefault(); if (overlay.hidden) openZoom(); else closeZoom(); }
    else if (key === "q") { e.preventDefault(); rotate(); }
    else if (reject && /^[1-9]$/.test(e.key)) {
      var boxes = reject.querySelectorAll("input[name=reason]");
      var box = boxes[parseInt(e.key, 10) - 1];
      if (box) { e.preventDefault(); box.checked = !box.checked; box.focus(); }
    }
  });
})();

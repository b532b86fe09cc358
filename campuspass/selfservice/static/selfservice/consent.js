// 知情同意书: "同意" becomes usable once the end of the text has been on screen (the whole text is in
// the page, no inner scroll box). Without JavaScript the button simply works.
(function () {
  var end = document.getElementById("consent-end");
  var agree = document.getElementById("agree");
  var hint = document.getElementById("agree-hint");
  if (!end || !agree || !("IntersectionObserver" in window)) return;
  agree.disabled = true;
  if (hint) hint.hidden = false;
  var observer = new IntersectionObserver(function (entries) {
    if (entries.some(function (entry) { return entry.isIntersecting; })) {
      agree.disabled = false;
      if (hint) hint.hidden = true;
      observer.disconnect();
    }
  });
  observer.observe(end);
})();

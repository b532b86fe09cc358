// iOS Safari and WeChat apply :active styles (WeUI's pressed buttons) only when the page listens for
// touchstart; an empty listener here replaces the inline `ontouchstart` the Content-Security-Policy forbids.
document.addEventListener("touchstart", function () {}, { passive: true });

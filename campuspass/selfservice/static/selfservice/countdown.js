// "重新获取验证码" counts down; waits over a minute are said in minutes (no inline script: CSP).
(function () {
  var button = document.getElementById("resend");
  if (!button) return;
  var wait = parseInt(button.getAttribute("data-wait"), 10) || 0;
  if (!wait) return;
  function label() {
    return wait > 60 ? Math.ceil(wait / 60) + " 分钟后可重新获取" : wait + " 秒后可重新获取";
  }
  var timer = setInterval(function () {
    wait -= 1;
    if (wait <= 0) {
      clearInterval(timer);
      button.disabled = false;
      button.textContent = "重新获取验证码";
      return;
    }
    button.textContent = label();
  }, 1000);
})();

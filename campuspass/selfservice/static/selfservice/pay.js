// WeChat Pay JSAPI: pay, then show the result page (which asks the platform, never the browser).
// Cancelling in WeChat's sheet shows the result page as "已取消支付" with 继续支付.
(function () {
  var data = document.getElementById("jsapi");
  var target = document.getElementById("pay-result");
  if (!data || !target) return;
  var params = JSON.parse(data.textContent);
  var resultUrl = target.getAttribute("data-result-url");
  function done(res) {
    var cancelled = res && res.err_msg === "get_brand_wcpay_request:cancel";
    window.location.replace(resultUrl + (cancelled ? "?cancelled=1" : ""));
  }
  function pay() {
    WeixinJSBridge.invoke("getBrandWCPayRequest", params, done);
  }
  if (typeof WeixinJSBridge === "undefined") {
    document.addEventListener("WeixinJSBridgeReady", pay, false);
  } else {
    pay();
  }
})();

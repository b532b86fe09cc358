// 添加图片: show which picture was chosen.
(function () {
  var input = document.getElementById("photo");
  var text = document.getElementById("picker-text");
  if (!input || !text) return;
  input.addEventListener("change", function () {
    var name = this.files && this.files[0] ? this.files[0].name : "";
    text.textContent = name ? "已选择：" + name : "拍照或从相册选择";
  });
})();

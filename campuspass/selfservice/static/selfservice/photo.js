// 添加图片: staff inside WeChat cannot compress a 12 MB camera photo themselves. The page shrinks it on
// the phone (long side at most 1600 px, JPEG), turns it upright (browsers apply the EXIF orientation
// when decoding), shows a preview, and refuses a picture too small to read. The server checks
// everything again; without canvas support the original file is sent as it is.
(function () {
  var MAX_SIDE = 1600;
  var MIN_SHORT_SIDE = 300; // as verification/photos.py
  var input = document.getElementById("photo");
  var text = document.getElementById("picker-text");
  var preview = document.getElementById("preview");
  var previewImg = document.getElementById("preview-img");
  var previewText = document.getElementById("preview-text");
  var error = document.getElementById("photo-error");
  if (!input) return;

  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function shrink(file, done) {
    var url = URL.createObjectURL(file);
    var img = new Image();
    img.onload = function () {
      URL.revokeObjectURL(url);
      var w = img.naturalWidth, h = img.naturalHeight;
      if (Math.min(w, h) < MIN_SHORT_SIDE) {
        done(null, "照片太小（" + w + "×" + h + " 像素），看不清工作证上的字。请对准工作证重新拍照，短边至少 300 像素。");
        return;
      }
      var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff"; // a transparent PNG goes onto white
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        done(blob ? { blob: blob, width: canvas.width, height: canvas.height } : null, blob ? "" : "");
      }, "image/jpeg", 0.85);
    };
    img.onerror = function () {
      URL.revokeObjectURL(url);
      done(null, "无法读取这张照片，请选择 JPG 或 PNG 格式的照片，或直接拍照。");
    };
    img.src = url;
  }

  input.addEventListener("change", function () {
    var file = this.files && this.files[0];
    showError("");
    preview.hidden = true;
    if (!file) {
      text.textContent = "拍照或从相册选择";
      return;
    }
    text.textContent = "正在处理照片…";
    shrink(file, function (result, message) {
      if (!result) {
        if (message) {
          showError(message);
          input.value = "";
          text.textContent = "拍照或从相册选择";
          return;
        }
        text.textContent = "已选择：" + file.name; // no canvas: the server decides
        return;
      }
      try {
        var shrunk = new File([result.blob], "id-photo.jpg", { type: "image/jpeg" });
        var transfer = new DataTransfer();
        transfer.items.add(shrunk);
        input.files = transfer.files;
      } catch (e) {
        // Older WebViews cannot replace the chosen file: the original goes up and the server checks it.
      }
      previewImg.src = URL.createObjectURL(result.blob);
      previewText.textContent =
        "预览：" + result.width + "×" + result.height + " 像素，" + Math.ceil(result.blob.size / 1024) + " KB。请确认工作证上的字清楚可读。";
      preview.hidden = false;
      text.textContent = "已选择，可点击重新选择";
    });
  });
})();

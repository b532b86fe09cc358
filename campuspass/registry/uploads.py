"""Uploading a registry file for an import job (the Django admin and the back office's 导入 screen)."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

UPLOAD_SUFFIXES = {".xlsx", ".csv"}


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="登记表文件",
        help_text="Excel（.xlsx）或 CSV（UTF-8 或 GB18030）。第一行为列名。",
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}),
    )
    year = forms.IntegerField(
        label="年度", required=False, min_value=2000, max_value=2100, help_text="文件没有“年度”列时必须填写。"
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise ValidationError(
                f"文件太大（{upload.size / 1048576:.1f} MB），最大允许 {limit / 1048576:.0f} MB。请拆分后分批导入。"
            )
        if upload.size == 0:
            raise ValidationError("文件是空的，没有任何内容。请检查所选文件后重新上传。")
        suffix = Path(upload.name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise ValidationError(
                "只能导入 .xlsx 或 .csv 文件。旧版 Excel（.xls）请在 Excel 中“另存为”.xlsx 后重新上传。"
            )
        return upload


def store_upload(upload) -> tuple[str, str, int]:
    """Save an upload under PRIVATE_STORAGE_ROOT with a random name; returns (relative path,
    sha256, size). The original name is kept only in the database."""
    root = Path(settings.PRIVATE_STORAGE_ROOT)
    folder = root / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    relative = f"imports/{secrets.token_hex(16)}{Path(upload.name).suffix.lower()}"
    digest = hashlib.sha256()
    size = 0
    with open(root / relative, "xb") as handle:
        for chunk in upload.chunks():
            digest.update(chunk)
            size += len(chunk)
            handle.write(chunk)
    return relative, digest.hexdigest(), size

"""Refuse control characters at the door, before any view, form or query sees them.

No person types NUL, ESC or a C1 control into a search box or a form; they arrive from pasted
binary, broken clients or probes, and PostgreSQL refuses NUL in text (a server error deep inside a
query). Every query parameter and form field (names and values; tab, newline and CR allowed in
form values) is checked here, for every page of every door, and a request that carries one is
answered 400 with a Chinese page saying what to do. Files in uploads are not form fields and
are checked by their own readers; payment notifications (JSON bodies) are left to their verifier."""

from __future__ import annotations

from django.http import HttpResponse
from django.template.loader import render_to_string

from .fieldrules import has_control_chars

MESSAGE = (
    "您输入的内容中含有无法识别的控制字符（常见于从其他软件复制粘贴时带入的不可见字符）。"
    "请删除该内容后重新输入；如仍有问题，请手动输入。"
)
EXEMPT_PREFIXES = ("/pay/notify/",)


def has_bad_fields(query_dict, *, allow_newlines: bool) -> bool:
    for key, values in query_dict.lists():
        if has_control_chars(key, allow_newlines=False):
            return True
        for value in values:
            if isinstance(value, str) and has_control_chars(value, allow_newlines=allow_newlines):
                return True
    return False


class ControlCharacterMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(EXEMPT_PREFIXES):
            bad = has_bad_fields(request.GET, allow_newlines=False) or has_control_chars(
                request.path, allow_newlines=False
            )
            if (
                not bad
                and request.method == "POST"
                and request.content_type
                in {
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                }
            ):
                bad = has_bad_fields(request.POST, allow_newlines=True)
            if bad:
                # rendered without the request: the context processors need what later middleware adds
                return HttpResponse(render_to_string("400.html", {"message": MESSAGE}), status=400)
        return self.get_response(request)

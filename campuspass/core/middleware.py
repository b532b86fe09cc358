"""Our own Chinese error pages at phone size, also while DEBUG is on (decision 0023).

Without DEBUG Django already renders templates/404.html, 403.html, 400.html and 500.html. With DEBUG
it shows its English technical pages at desktop width instead; a staff member testing the renewal
on a development or staging site must see what production shows. For an unexpected error the
traceback goes to the console log (the `django.request` logger, as Django would log it), where the
developer running the server reads it; the page is ours."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.shortcuts import render

_PAGES = ((Http404, "404.html", 404), (PermissionDenied, "403.html", 403))
_BAD_REQUEST = (BadRequest, SuspiciousOperation)


class ChineseErrorPagesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and getattr(request, "resolver_match", None) is None
        ):
            # No URL matched: Django's debug page listing every URL pattern, in English.
            return render(request, "404.html", status=404)
        return response

    def process_exception(self, request, exception):
        if not settings.DEBUG:
            return None  # Django's own handlers render the same templates
        for kind, template, status in _PAGES:
            if isinstance(exception, kind):
                return render(request, template, status=status)
        if isinstance(exception, _BAD_REQUEST):
            return render(request, "400.html", status=400)
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", request.path, exc_info=exception
        )
        return render(request, "500.html", status=500)

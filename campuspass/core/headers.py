"""Response headers for every page and file the application itself produces (static files are served
by WhiteNoise before this middleware and keep their long cache):

- `Cache-Control: no-store` (with Django's never-cache set): pages, exports, ID photos and receipts
  carry personal data; no browser, proxy or shared office PC may keep a copy.
- `Permissions-Policy`: no page needs the camera API, the microphone, location, payment request,
  USB or sensors (the ID photo is chosen through the file picker, which needs none of them).
The Content-Security-Policy comes from django-csp (settings.CONTENT_SECURITY_POLICY)."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "interest-cohort",
        "browsing-topics",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        add_never_cache_headers(response)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response

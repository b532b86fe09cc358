"""The back office at /office/. Each group of screens has its own URL module (same namespace)."""

from django.urls import include, path

app_name = "backoffice"
urlpatterns = [
    path("", include("campuspass.backoffice.urls_main")),  # sign-in, dashboard, review
    path("", include("campuspass.backoffice.urls_fulfilment")),  # counter, delivery, refunds, exports
    path("", include("campuspass.backoffice.urls_admin")),  # on-site desk, settings, audit log
    path("", include("campuspass.backoffice.urls_gates")),  # 道闸同步
]

"""Only the payments URLs, mounted where the project mounts them, so these tests do not depend on
the state of other apps' URLconfs."""

from django.urls import include, path

urlpatterns = [path("pay/", include("campuspass.payments.urls"))]

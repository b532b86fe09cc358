"""The benchmark's URLconf: the product's URLs plus the two reference views every web figure is
compared with (issue 13). They exist only here, never in campuspass/urls.py.

(a) /bench/bare/ — a JSON answer through the whole middleware stack (sessions, CSRF, auth).
(b) /bench/pk/ — one primary-key query on the same database and a template of about the size of
    a staff page (`bench/templates/bench/reference.html`)."""

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import include, path
from django.views.decorators.http import require_GET

from campuspass.registry.models import Pass
from campuspass.urls import urlpatterns as product_urlpatterns


@require_GET
def bare(request):
    return JsonResponse({"ok": True})


@require_GET
def one_query(request):
    pk = int(request.GET.get("pk", "1"))
    item = Pass.objects.filter(pk=pk).values("number", "year", "review_status").first()
    return render(request, "bench/reference.html", {"item": item, "rows": range(40)})


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/pk/", one_query, name="bench-pk"),
    path("", include(product_urlpatterns)),
]

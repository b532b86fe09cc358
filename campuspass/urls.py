from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils.http import urlencode

from campuspass.core import views as core_views
from campuspass.gates.api import api as gate_api

admin.site.site_header = "CampusPass 车证管理后台"
admin.site.site_title = "CampusPass"
admin.site.index_title = "数据维护"


def _admin_login(request, extra_context=None):
    """The admin has no sign-in of its own: every door signs in through the one perimeter
    (/office/login/: lockout, audit, forced password change, TOTP)."""
    target = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('backoffice:login')}?{urlencode({'next': target})}")


admin.site.login = _admin_login

urlpatterns = [
    path("", core_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("pay/", include("campuspass.payments.urls")),
    path("m/", include("campuspass.selfservice.urls")),
    path("office/", include("campuspass.backoffice.urls")),
    path("api/gate/v1/", gate_api.urls),
]

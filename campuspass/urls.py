from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode

from campuspass.core import metrics as core_metrics
from campuspass.core import views as core_views
from campuspass.gates.api import api as gate_api

admin.site.site_header = "CampusPass 车证管理后台"
admin.site.site_title = "CampusPass"
admin.site.index_title = "数据维护"
# No left-hand list of every model on each page: the lists get the whole width (all ten columns of
# the pass list show on a 1280 px screen; three scrolled out of sight beside the list), every admin
# page is about 1.5 ms and 9 KB lighter, and the way between lists is the breadcrumb's 首页 (issue 13).
admin.site.enable_nav_sidebar = False
# Every admin page's context carries the list of every app and model the user may see
# (`available_apps`), built with ~35 URL reversals and permission checks (~1 ms, about 7 % of a short
# list page). Without the sidebar only the index and an app's page show it: it is built when read.
_eager_app_list = admin.site.get_app_list
admin.site.get_app_list = lambda request, app_label=None: SimpleLazyObject(
    lambda: _eager_app_list(request, app_label)
)


def _admin_login(request, extra_context=None):
    """The admin has no sign-in of its own: every door signs in through the one perimeter
    (/office/login/: lockout, audit, forced password change, TOTP). A signed-in user sent here
    lacks the admin's permission: 403 (never back to the sign-in, which would loop)."""
    if request.user.is_authenticated:
        raise PermissionDenied("您的账号不能使用数据维护后台（仅限管理员）。如需维护数据，请联系管理员。")
    target = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('backoffice:login')}?{urlencode({'next': target})}")


admin.site.login = _admin_login

urlpatterns = [
    path("", core_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("pay/", include("campuspass.payments.urls")),
    path("m/", include("campuspass.selfservice.urls")),
    path("captcha/", include("captcha.urls")),
    path("office/", include("campuspass.backoffice.urls")),
    path("api/gate/v1/", gate_api.urls),
    path("health/", include("campuspass.core.health")),
    path("metrics", core_metrics.metrics_view, name="metrics"),
]

from django.contrib import admin
from django.urls import include, path

from campuspass.core import views as core_views
from campuspass.gates.api import api as gate_api

admin.site.site_header = "CampusPass 车证管理后台"
admin.site.site_title = "CampusPass"
admin.site.index_title = "数据维护"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("pay/", include("campuspass.payments.urls")),
    path("m/", include("campuspass.selfservice.urls")),
    path("captcha/", include("captcha.urls")),
    path("office/", include("campuspass.backoffice.urls")),
    path("api/gate/v1/", gate_api.urls),
]

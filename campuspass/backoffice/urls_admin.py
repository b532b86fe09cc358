"""On-site desk, settings and audit log (namespace `backoffice`, set in urls.py)."""

from django.urls import path

from . import views_audit, views_import, views_onsite, views_settings

urlpatterns = [
    # 现场办理
    path("onsite/", views_onsite.desk, name="onsite"),
    path("onsite/staff/new/", views_onsite.staff_new, name="onsite_staff_new"),
    path("onsite/staff/<int:pk>/", views_onsite.staff_detail, name="onsite_staff"),
    path("onsite/staff/<int:pk>/edit/", views_onsite.staff_edit, name="onsite_staff_edit"),
    path("onsite/staff/<int:pk>/phone/", views_onsite.staff_phone, name="onsite_staff_phone"),
    path("onsite/vehicle/new/", views_onsite.vehicle_new, name="onsite_vehicle_new"),
    path("onsite/vehicle/<int:pk>/edit/", views_onsite.vehicle_edit, name="onsite_vehicle_edit"),
    path("onsite/vehicle/<int:pk>/pass/", views_onsite.pass_new, name="onsite_pass_new"),
    path("onsite/pass/<int:pk>/edit/", views_onsite.pass_edit, name="onsite_pass_edit"),
    path("onsite/pass/<int:pk>/renew/", views_onsite.renew, name="onsite_renew"),
    # 设置
    path("settings/", views_settings.index, name="settings"),
    path("settings/campaigns/new/", views_settings.campaign_new, name="settings_campaign_new"),
    path("settings/campaigns/<int:pk>/", views_settings.campaign_edit, name="settings_campaign"),
    path("settings/campaigns/<int:pk>/consent/", views_settings.consent, name="settings_consent"),
    path("settings/reasons/", views_settings.reasons, name="settings_reasons"),
    path("settings/reasons/<int:pk>/", views_settings.reason_action, name="settings_reason_action"),
    path("settings/holidays/", views_settings.holidays, name="settings_holidays"),
    path("settings/holidays/<int:pk>/remove/", views_settings.holiday_remove, name="settings_holiday_remove"),
    path("settings/users/", views_settings.users, name="settings_users"),
    path("settings/users/<int:pk>/", views_settings.user_detail, name="settings_user"),
    path("settings/users/<int:pk>/action/", views_settings.user_action, name="settings_user_action"),
    # 导入
    path("import/", views_import.index, name="import"),
    path("import/<uuid:job_id>/", views_import.job, name="import-job"),
    path("import/<uuid:job_id>/confirm/", views_import.confirm, name="import-confirm"),
    # 审计日志
    path("audit/", views_audit.audit_log, name="audit"),
    path("audit/export.xlsx", views_audit.audit_export, name="audit_export"),
]

"""The admin shows accounts, roles and sign-in records read-only: users and roles are managed in
/office/settings/users/ (backoffice/users.py: audited, forced password change, last-administrator
guard), authenticators are reset there too, and no one reads another person's TOTP secret."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import beijing_time, describe
from .audit_catalogue import label as action_label
from .models import LogEntry


class _ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


for model in (User, Group, TOTPDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(User)
class ReadOnlyUserAdmin(_ReadOnly, UserAdmin):
    list_display = ["username", "first_name", "is_active", "is_staff", "last_login"]
    fieldsets = [
        (None, {"fields": ["username", "first_name", "last_name", "is_active", "is_staff", "groups"]})
    ]


@admin.register(Group)
class ReadOnlyGroupAdmin(_ReadOnly, GroupAdmin):
    pass


@admin.register(LogEntry)
class LogEntryAdmin(_ReadOnly, admin.ModelAdmin):
    """Read-only, worded as on the audit screen: Beijing time, the action's Chinese label, the data
    as labelled lines (phones masked) instead of the stored JSON."""

    list_display = ["time", "actor_label", "action_text", "object_repr", "plate", "staff_no"]
    list_filter = ["action"]
    search_fields = ["action", "actor_label", "plate", "staff_no", "object_repr"]
    fields = [
        "time",
        "actor_label",
        "action_text",
        "action",
        "object_repr",
        "plate",
        "staff_no",
        "reason",
        "data_text",
    ]
    readonly_fields = fields

    @admin.display(description="时间（北京时间）", ordering="created_at")
    def time(self, entry: LogEntry) -> str:
        return beijing_time(entry.created_at)

    @admin.display(description="操作")
    def action_text(self, entry: LogEntry) -> str:
        return action_label(entry.action)

    @admin.display(description="数据")
    def data_text(self, entry: LogEntry) -> str:
        return "\n".join(describe(entry))

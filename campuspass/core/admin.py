"""The admin shows accounts, roles and sign-in records read-only: users and roles are managed in
/office/settings/users/ (backoffice/users.py: audited, forced password change, last-administrator
guard), authenticators are reset there too, and no one reads another person's TOTP secret."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Q
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import beijing_time, describe
from .audit_catalogue import CATALOGUE, codes_for_filter
from .audit_catalogue import label as action_label
from .models import LogEntry
from .paging import CappedPaginator
from .plates import plate_search_variants


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


class ActionFilter(admin.SimpleListFilter):
    """The actions of the catalogue by their Chinese labels — Django's filter on the field listed the
    raw codes, read with a DISTINCT over the whole log (millions of rows) on every page. An action
    also matches the entries written under its old codes (`RENAMED`), as on the audit screen."""

    title = "操作"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(entry.code, entry.label) for entry in sorted(CATALOGUE, key=lambda entry: entry.code)]

    def queryset(self, request, queryset):
        code = self.value()
        return queryset.filter(action__in=[code, *codes_for_filter(code)]) if code else queryset


@admin.register(LogEntry)
class LogEntryAdmin(_ReadOnly, admin.ModelAdmin):
    """Read-only, worded as on the audit screen: Beijing time, the action's Chinese label, the data
    as labelled lines (phones masked) instead of the stored JSON. The log grows by millions of rows:
    the search box and the filter go through its indexes, and no page counts the whole log (the
    audit screen, /office/audit/, has the full set of filters)."""

    list_display = ["time", "actor_label", "action_text", "object_repr", "plate", "staff_no"]
    list_filter = [ActionFilter]
    search_fields = ["plate", "staff_no", "action"]  # answered by get_search_results below
    search_help_text = (
        "完整的车牌号或工号，或操作代码的开头（如 renewals.order）。按人、时间等查找请用“审计日志”页面。"
    )
    show_full_result_count = False
    paginator = CappedPaginator
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

    def get_search_results(self, request, queryset, search_term):
        """Exact plate (any spelling) or staff number, or an action code's beginning: each one an
        index of the log, where Django's search ran `UPPER(col) LIKE '%q%'` over five columns."""
        term = search_term.strip()
        if not term:
            return queryset, False
        # 工号 keep the case they were typed with: as typed, or upper-cased; renamed actions' old codes
        condition = Q(staff_no__in={term, term.upper()}) | Q(action__startswith=term)
        old_codes = codes_for_filter(term)
        if old_codes:
            condition |= Q(action__in=old_codes)
        plate = plate_search_variants(term)
        if plate:
            condition |= Q(plate=plate)
        return queryset.filter(condition), False

    @admin.display(description="时间（北京时间）", ordering="created_at")
    def time(self, entry: LogEntry) -> str:
        return beijing_time(entry.created_at)

    @admin.display(description="操作")
    def action_text(self, entry: LogEntry) -> str:
        return action_label(entry.action)

    @admin.display(description="数据")
    def data_text(self, entry: LogEntry) -> str:
        return "\n".join(describe(entry))

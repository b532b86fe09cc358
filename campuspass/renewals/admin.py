"""Django admin for the renewal core, read-only: campaigns, consent versions and holidays are changed
in /office/settings/ through services/campaigns.py (validated, audited); orders, refunds and
reconciliation change state only through their services."""

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse

from campuspass.core.changelists import LightRowsMixin
from campuspass.core.paging import matching
from campuspass.core.phones import mask_phone
from campuspass.registry.admin import SEARCH_LIMIT, CappedPaginator
from campuspass.registry.selectors import Query, staff_ids

from .models import Campaign, ConsentVersion, Holiday, Payment, ReconciliationRun, Refund, RenewalOrder
from .services.campaigns import CAMPAIGN_FIELDS


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never written: every change goes through the services (one door per operation)."""

    #: Where these records are changed (through the services), told on the list page.
    edit_at: tuple[str, str] | None = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if self.edit_at and request.method == "GET":
            label, url_name = self.edit_at
            messages.info(
                request,
                f"这里只供查看。{label}请在保卫处后台“设置”中办理（{reverse(url_name)}），修改会按规则校验并记入审计日志。",
            )
        return super().changelist_view(request, extra_context)


class ConsentVersionInline(admin.StackedInline):
    """Versions are only added (in /office/settings/, by the service that numbers them); what
    someone agreed to never changes."""

    model = ConsentVersion
    extra = 0
    fields = ["version", "text", "sha256", "created_at", "created_by"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    list_display = ["year", "product_name", "price_yuan", "window_start", "window_end", "previous_year"]
    fields = list(CAMPAIGN_FIELDS)
    inlines = [ConsentVersionInline]
    edit_at = ("续费活动与知情同意书", "backoffice:settings")

    @admin.display(description="价格（元）")
    def price_yuan(self, obj):
        return obj.price_yuan


@admin.register(Holiday)
class HolidayAdmin(ReadOnlyAdmin):
    list_display = ["date", "is_workday", "name"]
    list_filter = ["is_workday"]
    edit_at = ("节假日与调休", "backoffice:settings_holidays")


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = [
        "out_refund_no",
        "amount_fen",
        "status",
        "platform_status",
        "attempts",
        "last_error",
        "created_at",
    ]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RenewalOrder)
class RenewalOrderAdmin(LightRowsMixin, ReadOnlyAdmin):
    list_display = [
        "out_trade_no",
        "plate",
        "staff_name",
        "phone",
        "status_label",
        "amount_yuan",
        "created_at",
    ]
    list_filter = ["status", "campaign", "fulfilment"]
    search_fields = ["out_trade_no", "plate", "staff__name", "staff__staff_no", "payments__reference"]
    show_full_result_count = False
    list_per_page = 50  # as the registry's lists: a page of 100 admin rows costs more than its search
    paginator = CappedPaginator

    def get_search_results(self, request, queryset, search_term):
        """Separate indexed lookups (decision 0038): the order number, the plate (whole, or a part
        through the trigram index), the people the registry's reading finds, a payment reference."""
        query = Query.read(search_term)
        if not query.text:
            return queryset, False
        compact = "".join(query.text.split())
        condition = Q(out_trade_no__iexact=compact) | Q(staff_id__any=staff_ids(query, limit=SEARCH_LIMIT))
        if query.plate:
            condition |= Q(plate=query.plate)
        elif query.plate_part:
            condition |= Q(plate__contains=query.plate_part)
        # every method named, so the unique (method, reference) index serves the lookup
        paid = Payment.objects.filter(method__in=Payment.Method.values, reference=compact)
        paid = paid.values_list("order_id", flat=True)[:SEARCH_LIMIT]
        condition |= Q(pk__any=list(paid))
        return matching(queryset, condition), False

    # new_pass: an approved order's status (待生效 / 使用中 / 已过期) is read from its new pass's dates
    list_select_related = ["staff", "new_pass"]
    exclude = ["id_photo"]
    inlines = [RefundInline]
    date_hierarchy = "created_at"

    @admin.display(description="职工")
    def staff_name(self, obj):
        return obj.staff.name

    @admin.display(description="手机号")
    def phone(self, obj):
        return mask_phone(obj.staff.mobile)

    @admin.display(description="状态")
    def status_label(self, obj):
        return obj.status_label

    @admin.display(description="金额（元）")
    def amount_yuan(self, obj):
        return obj.amount_yuan


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "out_refund_no",
        "order",
        "amount_fen",
        "status",
        "platform_status",
        "attempts",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["out_refund_no", "order__out_trade_no", "order__plate"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """The ledger, read-only: money is recorded and given back only through the services."""

    list_display = ["paid_at", "method", "reference", "amount_fen", "state", "kind", "order", "campaign"]
    list_filter = ["method", "state", "kind", "campaign"]
    search_fields = ["reference", "out_trade_no", "order__out_trade_no", "order__plate"]
    exclude = ["payer_openid"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "payments_ours",
        "payments_bill",
        "refunds_ours",
        "refunds_bill",
        "difference_count",
    ]

    @admin.display(description="差异项")
    def difference_count(self, obj):
        return len(obj.differences)

"""Django admin for the renewal core: campaign settings (product.md section 2) editable by
administrators; orders, refunds and reconciliation shown read-only — their state changes only
through the services."""

from django.contrib import admin
from django.db import transaction

from campuspass.core.audit import diff_fields, log_action
from campuspass.core.phones import mask_phone

from .models import Campaign, ConsentVersion, Holiday, Payment, ReconciliationRun, Refund, RenewalOrder
from .services.campaigns import CAMPAIGN_FIELDS


class ConsentVersionInline(admin.StackedInline):
    """Versions are only added: what someone agreed to never changes."""

    model = ConsentVersion
    extra = 0
    fields = ["version", "text", "sha256", "created_at", "created_by"]
    readonly_fields = ["sha256", "created_at", "created_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["year", "product_name", "price_yuan", "window_start", "window_end", "previous_year"]
    fields = list(CAMPAIGN_FIELDS)
    inlines = [ConsentVersionInline]

    @admin.display(description="价格（元）")
    def price_yuan(self, obj):
        return obj.price_yuan

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change:
                before = Campaign.objects.select_for_update().get(pk=obj.pk)
                changes = diff_fields(before, {name: getattr(obj, name) for name in CAMPAIGN_FIELDS})
            else:
                changes = {}
            super().save_model(request, obj, form, change)
            if changes or not change:
                log_action(
                    actor=request.user,
                    action="renewals.campaign.updated" if change else "renewals.campaign.created",
                    obj=obj,
                    data={"changes": changes},
                )

    def save_formset(self, request, form, formset, change):
        for instance in formset.save(commit=False):
            if instance.pk is None:
                instance.sha256 = ConsentVersion.hash_text(instance.text)
                instance.created_by = request.user
                instance.save()
                log_action(
                    actor=request.user,
                    action="renewals.consent.version_added",
                    obj=instance.campaign,
                    data={"version": instance.version, "sha256": instance.sha256},
                )


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "name"]
    list_filter = ["is_workday"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
class RenewalOrderAdmin(ReadOnlyAdmin):
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
    list_select_related = ["staff"]
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

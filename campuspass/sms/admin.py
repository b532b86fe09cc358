"""The outbox in the back office: read-only, numbers masked, codes hidden; failed messages can be
sent again."""

from __future__ import annotations

import json

from django.contrib import admin, messages

from .models import OutboxMessage
from .services import sms_resend

_HIDDEN_CODE = "******"


def _hide_code(message: OutboxMessage, text: str) -> str:
    # A verification code is a credential while it is valid: nobody in the back office needs it.
    code = str(message.params.get("code", "")) if message.template == "otp" else ""
    return text.replace(code, _HIDDEN_CODE) if code else text


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "masked_phone", "template", "status", "attempts", "related", "sent_at")
    list_filter = ("status", "template")
    search_fields = ("=related",)
    search_help_text = "按关联对象精确查找，例如 order:12"
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["resend"]
    fields = (
        "masked_phone",
        "template",
        "shown_text",
        "shown_params",
        "related",
        "status",
        "attempts",
        "provider_id",
        "last_error",
        "created_at",
        "sent_at",
    )
    readonly_fields = fields

    @admin.display(description="手机号")
    def masked_phone(self, obj: OutboxMessage) -> str:
        return obj.masked_phone

    @admin.display(description="短信内容")
    def shown_text(self, obj: OutboxMessage) -> str:
        return _hide_code(obj, obj.text)

    @admin.display(description="模板参数")
    def shown_params(self, obj: OutboxMessage) -> str:
        return _hide_code(obj, json.dumps(obj.params, ensure_ascii=False))

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("sms.change_outboxmessage")

    @admin.action(description="重新发送", permissions=["resend"])
    def resend(self, request, queryset) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        queued = sms_resend(message_ids=selected, acting_user=request.user)
        skipped = len(selected) - queued
        if queued:
            self.message_user(
                request, f"已重新提交 {queued} 条短信，稍后刷新查看发送结果。", messages.SUCCESS
            )
        if skipped:
            self.message_user(request, f"{skipped} 条短信不是“发送失败”状态，未重新发送。", messages.WARNING)

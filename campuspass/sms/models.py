from __future__ import annotations

from django.db import models

from campuspass.core.phones import mask_phone

from .templates import template_choices


class OutboxMessage(models.Model):
    """One SMS: stored when the change that causes it commits, then sent by a task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "待发送"
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"

    phone = models.CharField("手机号", max_length=11)
    template = models.CharField("短信类型", max_length=32, choices=template_choices())
    params = models.JSONField("模板参数", default=dict, blank=True)
    text = models.TextField("短信内容")
    related = models.CharField(
        "关联对象", max_length=100, blank=True, db_index=True, help_text="例如 order:12"
    )
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField("发送次数", default=0)
    provider_id = models.CharField("通道流水号", max_length=100, blank=True)
    last_error = models.TextField("最近一次错误", blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)

    class Meta:
        verbose_name = "短信"
        verbose_name_plural = "短信发送记录"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"], name="sms_outbox_status_created")]

    def __str__(self) -> str:
        return f"{self.get_template_display()} → {self.masked_phone}"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .errors import CALL_LABELS

KIND_CHOICES = [("payment", "支付"), ("refund", "退款")]
CALL_CHOICES = list(CALL_LABELS.items())


class ReceivedNotification(models.Model):
    """Every notification that reached our endpoints, verified or not: the log of what came in.

    A verified event id appears once (duplicates from the platform's retries keep the first row);
    rejected ones keep the id they claimed, which proves nothing, so it is not unique among them.
    """

    kind = models.CharField("类型", max_length=16, choices=KIND_CHOICES)
    event_id = models.CharField("通知ID", max_length=64, null=True, blank=True, db_index=True)
    event_type = models.CharField("通知类型", max_length=64, blank=True)
    headers = models.JSONField("请求头（摘录）", default=dict)
    body_sha256 = models.CharField("报文SHA-256", max_length=64)
    verified = models.BooleanField("验证通过", default=False)
    reject_reason = models.CharField("拒绝原因", max_length=64, blank=True)
    reject_message = models.CharField("拒绝说明", max_length=255, blank=True)
    received_at = models.DateTimeField("接收时间", default=timezone.now, db_index=True)
    applied_result = models.TextField("处理结果", blank=True)
    applied_ok = models.BooleanField("已处理", default=False)
    deliveries = models.PositiveIntegerField("收到次数", default=1)

    class Meta:
        verbose_name = "收到的支付通知"
        verbose_name_plural = "收到的支付通知"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=Q(verified=True), name="payments_verified_event_id_unique"
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.event_id or '-'} {'ok' if self.verified else self.reject_reason}"


class UsedNonce(models.Model):
    """Nonces of accepted notifications; the unique column is what makes a replay fail."""

    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self):
        return self.nonce


class PaymentTerms(models.Model):
    """What we sent WeChat Pay for an out_trade_no the first time, resent unchanged every time after:
    WeChat refuses a repeated out_trade_no whose parameters differ (OUT_TRADE_NO_USED) and never lets
    time_expire change. A campaign edit therefore reaches new orders only (decision 0010)."""

    out_trade_no = models.CharField("商户订单号", max_length=32, unique=True)
    description = models.CharField("商品描述", max_length=127)
    amount_fen = models.PositiveIntegerField("金额（分）")
    time_expire = models.DateTimeField("支付截止时间")
    notify_url = models.CharField("通知地址", max_length=255)
    payer_openid = models.CharField("付款人 openid", max_length=128, blank=True)
    created_at = models.DateTimeField("首次下单时间", default=timezone.now)

    class Meta:
        verbose_name = "已下单的支付条款"
        verbose_name_plural = "已下单的支付条款"

    def __str__(self):
        return f"{self.out_trade_no} {self.amount_fen}分 至 {self.time_expire:%Y-%m-%d %H:%M}"


class CallBackoff(models.Model):
    """A call WeChat Pay answered with a BACKOFF reaction (busy, rate limited, unreachable): the
    scheduled jobs send it again, with the same parameters, only after `backoff_delay(failures)`
    (1 min, 5 min, 15 min, 1 h, 3 h, then every 6 h). The row goes away with the next answer that
    is not BACKOFF, so a call that succeeds starts from the beginning next time (decision 0035)."""

    call = models.CharField("接口", max_length=16, choices=CALL_CHOICES)
    key = models.CharField("单号/日期", max_length=64)  # out_trade_no, out_refund_no or the bill day
    failures = models.PositiveIntegerField("连续失败次数", default=0)
    last_code = models.CharField("最近错误码", max_length=64, blank=True)
    last_attempt_at = models.DateTimeField("最近一次调用", default=timezone.now)
    next_attempt_at = models.DateTimeField("下次调用不早于", db_index=True)

    class Meta:
        verbose_name = "微信支付退避重试"
        verbose_name_plural = "微信支付退避重试"
        constraints = [models.UniqueConstraint(fields=["call", "key"], name="payments_call_backoff_unique")]

    def __str__(self):
        return f"{self.call} {self.key} ×{self.failures}"


class PaymentAlert(models.Model):
    """需要处理: WeChat Pay answered one of our calls with a code that needs a person (the FINANCE
    reaction: our configuration, the merchant account, money). The scheduled jobs leave that call
    alone while the alert is open; finance marks it handled or retries after fixing the cause, and
    either is audited. One open alert per call and key: a repeat only counts (decision 0035)."""

    call = models.CharField("接口", max_length=16, choices=CALL_CHOICES)
    key = models.CharField("单号/日期", max_length=64)
    code = models.CharField("错误码", max_length=64)
    meaning = models.CharField("含义与处理办法", max_length=200)
    detail = models.CharField("微信支付的说明", max_length=255, blank=True)
    # What it concerns (plain numbers: the adapter knows nothing of orders). Not named
    # out_trade_no: the audit log would take this row for an order.
    trade_no = models.CharField("商户订单号", max_length=32, blank=True, db_index=True)
    refund_no = models.CharField("商户退款单号", max_length=64, blank=True, db_index=True)
    bill_day = models.DateField("账单日期", null=True, blank=True, db_index=True)
    first_at = models.DateTimeField("首次出现", default=timezone.now)
    last_at = models.DateTimeField("最近出现", default=timezone.now)
    occurrences = models.PositiveIntegerField("出现次数", default=1)
    resolved_at = models.DateTimeField("处理时间", null=True, blank=True, db_index=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="处理人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolution = models.CharField(
        "处理方式", max_length=16, blank=True, choices=[("handled", "已处理"), ("retried", "已重试")]
    )
    note = models.CharField("处理说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "需要处理的微信支付应答"
        verbose_name_plural = "需要处理的微信支付应答"
        ordering = ["-last_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "key"], condition=Q(resolved_at__isnull=True), name="payments_one_open_alert"
            )
        ]

    def __str__(self):
        return f"{self.get_call_display()} {self.key} {self.code}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


# --- the simulator's own state (what WeChat Pay would keep on its side) ---------------------------


class SimTransaction(models.Model):
    STATES = [("NOTPAY", "未支付"), ("SUCCESS", "支付成功"), ("CLOSED", "已关闭"), ("REFUND", "转入退款")]

    out_trade_no = models.CharField(max_length=32, unique=True)
    appid = models.CharField(max_length=32)
    mchid = models.CharField(max_length=32)
    description = models.CharField(max_length=127)
    amount_fen = models.PositiveIntegerField()
    openid = models.CharField(max_length=128, blank=True)
    notify_url = models.CharField(max_length=255)
    return_url = models.CharField(max_length=500, blank=True)
    expire_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=STATES, default="NOTPAY")
    transaction_id = models.CharField(max_length=32, blank=True)
    prepay_id = models.CharField(max_length=64)
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "模拟支付订单"
        verbose_name_plural = "模拟支付订单"

    def __str__(self):
        return f"{self.out_trade_no} {self.state}"


class SimRefund(models.Model):
    STATUSES = [
        ("PROCESSING", "退款处理中"),
        ("SUCCESS", "退款成功"),
        ("ABNORMAL", "退款异常"),
        ("CLOSED", "退款关闭"),
    ]

    out_refund_no = models.CharField(max_length=64, unique=True)
    refund_id = models.CharField(max_length=32, unique=True)
    out_trade_no = models.CharField(max_length=32, db_index=True)
    transaction_id = models.CharField(max_length=32)
    amount_fen = models.PositiveIntegerField()
    total_fen = models.PositiveIntegerField()
    reason = models.CharField(max_length=80, blank=True)
    notify_url = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default="PROCESSING")
    success_time = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "模拟退款"
        verbose_name_plural = "模拟退款"

    def __str__(self):
        return f"{self.out_refund_no} {self.status}"


class SimNotification(models.Model):
    """A notification the simulator sent or will send; the body is kept exactly, for replay."""

    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    event_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=64)
    url = models.CharField(max_length=255)
    body = models.TextField()
    last_headers = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    acknowledged = models.BooleanField(default=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    dropped = models.BooleanField(default=False)
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "模拟通知"
        verbose_name_plural = "模拟通知"
        ordering = ["id"]

    def __str__(self):
        return f"#{self.pk} {self.event_type} {self.event_id}"

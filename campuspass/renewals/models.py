import datetime as dt
import hashlib

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from campuspass.core.money import yuan
from campuspass.registry.models import Pass, Staff, Vehicle

from .buildings import building_of


class Campaign(models.Model):
    """One renewal campaign per pass year (product.md section 2). Every field is editable in the
    back office; nothing here needs a deploy to change."""

    year = models.PositiveSmallIntegerField("通行证年度", unique=True)
    previous_year = models.PositiveSmallIntegerField("可续费的上一年度")
    product_name = models.CharField("商品名称", max_length=100)
    price_fen = models.PositiveIntegerField("价格（分）")
    window_start = models.DateTimeField("线上办理开始")
    window_end = models.DateTimeField("线上办理结束")
    valid_from = models.DateField("新证有效期起")
    valid_to = models.DateField("新证有效期止")
    local_prefixes = models.CharField(
        "可线上办理的号牌前缀", max_length=64, default="京", help_text="多个用逗号分隔，如：京,津"
    )
    pickup_place = models.CharField("领取地点", max_length=100, default="行政2号楼1层122、123室")
    pickup_hours = models.CharField("领取时间", max_length=100, default="工作日 8:30—11:30，13:30—17:00")
    contact_phones = models.CharField("咨询电话", max_length=100, default="82802290、82805604")
    pickup_delay_working_days = models.PositiveSmallIntegerField(
        "制证工作日数",
        default=1,
        help_text="审核通过后保卫处制证需要的完整工作日数；制证完成后的下一个工作日起可领取。",
    )
    print_cutoff = models.TimeField(
        "当天制证截止时间",
        default=dt.time(15, 0),
        help_text="工作日此时间以前审核通过的，当天算第一个制证日；此后或休息日审核通过的，从下一个工作日算起。",
    )
    unpaid_timeout_minutes = models.PositiveSmallIntegerField("未支付订单超时（分钟）", default=15)
    photo_retention_days = models.PositiveSmallIntegerField("审核后证件照片保留天数", default=30)
    auto_refund_on_reject = models.BooleanField("审核不通过时自动退款", default=False)
    pass_number_prefix = models.CharField("通行证编号前缀", max_length=16, default="YXB")
    # The last pass number this campaign issued (services.orders._next_pass_number): the next one is
    # found from it by key, not by reading every number of the year.
    last_pass_number = models.CharField("最近发出的通行证编号", max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "续费活动"
        verbose_name_plural = "续费活动"
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(window_start__lt=models.F("window_end")), name="campaign_window"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__lte=models.F("valid_to")), name="campaign_validity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}年度续费"

    @property
    def prefixes(self) -> list[str]:
        return [p.strip() for p in self.local_prefixes.replace("，", ",").split(",") if p.strip()]

    def window_open(self, at: dt.datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.window_start <= at < self.window_end

    @property
    def price_yuan(self) -> str:
        return yuan(self.price_fen)

    def current_consent(self) -> "ConsentVersion | None":
        return self.consent_versions.order_by("-version").first()


class ConsentVersion(models.Model):
    """A version of the 知情同意书. Versions are only added, never edited: what someone agreed to
    stays exactly what they saw (the hash is kept with their agreement)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="consent_versions")
    version = models.PositiveIntegerField("版本")
    text = models.TextField("知情同意书正文")
    sha256 = models.CharField("正文 SHA-256", max_length=64, editable=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "知情同意书版本"
        verbose_name_plural = "知情同意书版本"
        ordering = ["campaign", "-version"]
        constraints = [models.UniqueConstraint(fields=["campaign", "version"], name="consent_version_unique")]

    def __str__(self) -> str:
        return f"{self.campaign.year}年 知情同意书 第{self.version}版"

    @staticmethod
    def hash_text(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Holiday(models.Model):
    """A day that overrides the built-in calendar: a public holiday (not a working day) or a make-up
    working day (调休上班). Needed for years the chinese-calendar package does not know yet."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("是否上班", help_text="勾选：调休上班日；不勾选：放假")
    name = models.CharField("说明", max_length=50, blank=True)

    class Meta:
        verbose_name = "节假日调整"
        verbose_name_plural = "节假日调整"
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'上班' if self.is_workday else '放假'} {self.name}"


class RenewalOrder(models.Model):
    class Status(models.TextChoices):
        AWAITING_CONSENT = "awaiting_consent", "待同意"
        PENDING_PAYMENT = "pending_payment", "待支付"
        CLOSED = "closed", "已关闭"
        PAID = "paid", "待审核"
        APPROVED = "approved", "审核通过"
        REJECTED = "rejected", "审核未通过"
        REFUNDING = "refunding", "退款中"
        REFUNDED = "refunded", "已退款"
        REFUND_FAILED = "refund_failed", "退款异常"

    class Validity(models.TextChoices):
        NOT_YET = "not_yet", "待生效"
        IN_USE = "in_use", "使用中"
        EXPIRED = "expired", "已过期"

    class Fulfilment(models.TextChoices):
        PICKUP = "pickup", "到保卫处领取"
        DELIVERY = "delivery", "送证上门"

    class Handover(models.TextChoices):
        """Where the new pass is on its way to the staff member: the FULFILMENT axis (decision 0034).
        "" until the order is approved."""

        TO_COLLECT = "to_collect", "待领取"  # at the counter, waiting for the staff member
        TO_DELIVER = "to_deliver", "待送证"  # to be delivered, no courier yet
        DELIVERING = "delivering", "配送中"  # a courier has it (assigned or claimed)
        DELIVERED = "delivered", "已送达"
        COLLECTED = "collected", "已领取"  # handed out at the counter

    HANDED_OVER = (Handover.DELIVERED, Handover.COLLECTED)
    WAITING_HANDOVER = (Handover.TO_COLLECT, Handover.TO_DELIVER, Handover.DELIVERING)

    class Channel(models.TextChoices):
        ONLINE = "online", "线上"
        ONSITE = "onsite", "现场办理"

    OPEN_STATUSES = (Status.AWAITING_CONSENT, Status.PENDING_PAYMENT, Status.PAID, Status.APPROVED)
    UNPAID_STATUSES = (Status.AWAITING_CONSENT, Status.PENDING_PAYMENT)

    campaign = models.ForeignKey(
        Campaign, verbose_name="活动", on_delete=models.PROTECT, related_name="orders"
    )
    previous_pass = models.ForeignKey(
        Pass, verbose_name="上一年度通行证", on_delete=models.PROTECT, related_name="renewal_orders"
    )
    staff = models.ForeignKey(
        Staff, verbose_name="职工", on_delete=models.PROTECT, related_name="renewal_orders"
    )
    vehicle = models.ForeignKey(
        Vehicle, verbose_name="车辆", on_delete=models.PROTECT, related_name="renewal_orders"
    )
    plate = models.CharField("车牌号", max_length=8, db_index=True)
    channel = models.CharField("办理渠道", max_length=8, choices=Channel.choices, default=Channel.ONLINE)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.AWAITING_CONSENT)
    validity = models.CharField("有效状态", max_length=8, choices=Validity.choices, blank=True)
    amount_fen = models.PositiveIntegerField("金额（分）")
    out_trade_no = models.CharField("商户订单号", max_length=32, unique=True)
    # When the order became paid (the payment itself is a Payment row of the ledger).
    paid_at = models.DateTimeField("支付时间", null=True, blank=True)
    fulfilment = models.CharField(
        "领取方式", max_length=8, choices=Fulfilment.choices, default=Fulfilment.PICKUP
    )
    delivery_address = models.CharField("校内详细地址", max_length=200, blank=True)
    # The building the address starts with (buildings.building_of), kept with the address by save():
    # 送证上门 groups and counts its deliveries by it in the database.
    delivery_building = models.CharField("楼宇", max_length=100, blank=True, editable=False)
    # The uploaded ID photo (a private document, verification.IdPhoto; its deletion date and time
    # are on it). Online orders only; set and changed by the order service through the photo service.
    id_photo = models.OneToOneField(
        "verification.IdPhoto",
        verbose_name="证件照片",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="order",
    )
    # The FULFILMENT axis (transitions.FULFILMENT): moved only by services/fulfilment.py and the approval.
    fulfilment_status = models.CharField(
        "领取/送证状态", max_length=12, choices=Handover.choices, blank=True, default="", db_index=True
    )
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reject_reason = models.CharField("不通过原因", max_length=300, blank=True)
    pickup_from = models.DateField("可领取日期", null=True, blank=True)
    new_pass = models.OneToOneField(
        Pass,
        verbose_name="新通行证",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="issued_by_order",
    )
    handed_out_at = models.DateTimeField("发放时间", null=True, blank=True)
    handed_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="发放人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    old_pass_collected = models.BooleanField("旧证已收回", default=False)
    id_checked = models.BooleanField("工作证已核验", default=False)
    # Review: a reviewer claims an order for a few minutes so two reviewers never decide it at once.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审核中",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_until = models.DateTimeField("审核锁定至", null=True, blank=True)
    # Delivery: the courier the order is assigned to.
    courier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="配送员",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    courier_assigned_at = models.DateTimeField("分派时间", null=True, blank=True)
    closed_at = models.DateTimeField("关闭时间", null=True, blank=True)
    created_at = models.DateTimeField("下单时间", default=timezone.now, db_index=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "续费订单"
        verbose_name_plural = "续费订单"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["previous_pass", "campaign"],
                condition=models.Q(status__in=["awaiting_consent", "pending_payment", "paid", "approved"]),
                name="one_open_order_per_pass_and_year",
            ),
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="order_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "paid_at"], name="order_status_paid_idx"),
            models.Index(Upper("out_trade_no"), name="order_trade_no_upper_idx"),  # decision 0038
            # 退款管理 → 未申请退款: rejected orders by decision time (its page and its capped count).
            models.Index(
                fields=["decided_at", "id"], condition=models.Q(status="rejected"), name="order_rejected_idx"
            ),
            # 送证上门: the campaign's pending deliveries in list order, and 今日已送达 (a time range).
            models.Index(
                fields=["campaign", "decided_at", "id"],
                condition=models.Q(status="approved", fulfilment_status__in=["to_deliver", "delivering"]),
                name="order_pending_delivery_idx",
            ),
            models.Index(
                fields=["handed_out_at"],
                condition=models.Q(fulfilment_status="delivered"),
                name="order_delivered_idx",
            ),
            # 送证上门 by building: its counts per building and its first rows in building order.
            models.Index(
                fields=["campaign", "delivery_building", "decided_at", "id"],
                condition=models.Q(status="approved", fulfilment_status__in=["to_deliver", "delivering"]),
                name="order_delivery_building_idx",
            ),
            # 窗口领取's 待领取: the campaign's passes waiting at the counter in list order (its page
            # and the header's capped count).
            models.Index(
                fields=["campaign", "decided_at", "id"],
                condition=models.Q(status="approved", fulfilment_status="to_collect"),
                name="order_pending_pickup_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.out_trade_no}（{self.plate}）"

    def save(self, *args, **kwargs):
        """Keeps `delivery_building` with `delivery_address` (also when only the address is saved)."""
        self.delivery_building = building_of(self.delivery_address) if self.delivery_address else ""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "delivery_address" in update_fields:
            kwargs["update_fields"] = {*update_fields, "delivery_building"}
        super().save(*args, **kwargs)

    @property
    def status_label(self) -> str:
        """What the staff member sees: approved orders show where the pass is (待领取 / 待送证 / 配送中,
        the FULFILMENT axis) until it is in hand, then 待生效 / 使用中 / 已过期 from the new pass's own
        dates; an order not yet agreed to shows 待支付 as the notice calls it."""
        if self.status == self.Status.APPROVED and self.fulfilment_status in self.WAITING_HANDOVER:
            return self.Handover(self.fulfilment_status).label
        if self.status == self.Status.APPROVED and (self.new_pass_id or self.validity):
            return self.Validity(self.current_validity()).label
        if self.status == self.Status.AWAITING_CONSENT:
            return self.Status.PENDING_PAYMENT.label
        return self.get_status_display()

    @property
    def handed_over(self) -> bool:
        """The new pass is in the staff member's hands (已领取 / 已送达)."""
        return self.fulfilment_status in self.HANDED_OVER

    def current_validity(self, today: dt.date | None = None) -> str:
        """待生效 / 使用中 / 已过期 from the new pass's dates (the stored value when there is none)."""
        new_pass = self.new_pass if self.new_pass_id else None
        if new_pass is None or new_pass.valid_from is None or new_pass.valid_to is None:
            return self.validity or self.Validity.NOT_YET
        return validity_of(new_pass.valid_from, new_pass.valid_to, today or timezone.localdate())

    # --- the order's money, read from the ledger (Payment rows) ----------------------------

    def applied_payment(self) -> "Payment | None":
        """The payment that paid this order (None while unpaid)."""
        cached = getattr(self, "_prefetched_objects_cache", {}).get("payments")
        rows = list(cached) if cached is not None else list(self.payments.all())
        return next((p for p in rows if p.state == Payment.State.APPLIED), None)

    @property
    def paid_amount_fen(self) -> int:
        payment = self.applied_payment()
        return payment.amount_fen if payment else 0

    @property
    def payment_method(self) -> str:
        payment = self.applied_payment()
        return payment.method if payment else ""

    @property
    def payment_receipt_no(self) -> str:
        payment = self.applied_payment()
        return payment.reference if payment and payment.method != Payment.Method.WECHAT else ""

    @property
    def transaction_id(self) -> str | None:
        payment = self.applied_payment()
        return payment.reference if payment and payment.method == Payment.Method.WECHAT else None

    @property
    def amount_yuan(self) -> str:
        return yuan(self.amount_fen)


def validity_of(valid_from: dt.date, valid_to: dt.date, today: dt.date) -> str:
    """待生效 / 使用中 / 已过期 of a pass valid from `valid_from` to `valid_to` (both days included)."""
    if today < valid_from:
        return RenewalOrder.Validity.NOT_YET
    if today > valid_to:
        return RenewalOrder.Validity.EXPIRED
    return RenewalOrder.Validity.IN_USE


class Payment(models.Model):
    """The ledger: every sum of money taken, one row each (decision 0006). A renewal order is paid
    because one of its payments is APPLIED to it; money that arrived without a live order (a late
    payment after the order closed, a second payment) is a row too, in state UNCLAIMED, so finance
    sees it and gives it back. Counter sales of new passes are rows without an order."""

    class Method(models.TextChoices):
        WECHAT = "wechat", "微信支付"
        CASH = "cash", "现金"
        CARD = "card", "刷卡"

    class State(models.TextChoices):
        APPLIED = "applied", "已入账"  # pays its order (or the counter sale)
        UNCLAIMED = "unclaimed", "待退回"  # no live order wants it: must go back to the payer

    class Kind(models.TextChoices):
        RENEWAL = "renewal", "续费订单"
        PASS_SALE = "pass_sale", "现场办理新证"

    COUNTER_METHODS = (Method.CASH, Method.CARD)

    campaign = models.ForeignKey(
        Campaign, verbose_name="活动", on_delete=models.PROTECT, related_name="payments"
    )
    order = models.ForeignKey(
        RenewalOrder,
        verbose_name="订单",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    new_pass = models.ForeignKey(
        Pass, verbose_name="新证", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField("用途", max_length=16, choices=Kind.choices, default=Kind.RENEWAL)
    method = models.CharField("支付方式", max_length=16, choices=Method.choices)
    reference = models.CharField("凭证号", max_length=64, help_text="微信支付订单号或现场收据号")
    out_trade_no = models.CharField("商户订单号", max_length=32, blank=True)
    amount_fen = models.PositiveIntegerField("金额（分）")
    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.APPLIED)
    payer_openid = models.CharField("付款人 openid", max_length=128, blank=True)
    paid_at = models.DateTimeField("付款时间", default=timezone.now, db_index=True)
    source = models.CharField("来源", max_length=32, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("入账时间", default=timezone.now)

    class Meta:
        verbose_name = "收款"
        verbose_name_plural = "收款"
        ordering = ["-paid_at"]
        constraints = [
            models.UniqueConstraint(fields=["method", "reference"], name="payment_reference_unique"),
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(state="applied"),
                name="one_applied_payment_per_order",
            ),
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            # 退款管理 → 待处理款项 and its count: the few unclaimed payments among hundreds of thousands.
            models.Index(
                fields=["paid_at", "id"], condition=models.Q(state="unclaimed"), name="payment_unclaimed_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.reference}"

    @property
    def amount_yuan(self) -> str:
        return yuan(self.amount_fen)

    @property
    def is_counter(self) -> bool:
        return self.method in self.COUNTER_METHODS


class ConsentRecord(models.Model):
    """Who agreed to which version of the 知情同意书, when, from which device."""

    order = models.OneToOneField(RenewalOrder, on_delete=models.PROTECT, related_name="consent")
    consent_version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, related_name="records")
    text_sha256 = models.CharField("同意时正文 SHA-256", max_length=64)
    agreed_at = models.DateTimeField("同意时间", default=timezone.now)
    ip_address = models.GenericIPAddressField("IP 地址", null=True, blank=True)
    user_agent = models.CharField("设备", max_length=300, blank=True)

    class Meta:
        verbose_name = "知情同意记录"
        verbose_name_plural = "知情同意记录"

    def __str__(self) -> str:
        return f"{self.order} 同意第{self.consent_version.version}版"


class Refund(models.Model):
    """Money going back: always of one payment (decision 0006). Its route — online through the
    provider or at the counter — is the payment's (`services.refunds.refund_route`)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待提交"
        PROCESSING = "processing", "退款处理中"
        SUCCEEDED = "succeeded", "退款成功"
        FAILED = "failed", "退款失败"  # the platform refused the request: may be resent as it is
        CLOSED = "closed", "退款关闭"  # final: a new refund (new out_refund_no) may be started
        ABNORMAL = "abnormal", "退款异常"  # the payer's card is gone: abnormal handling or offline payout
        PAID_OUT = "paid_out", "线下退款完成"  # an ABNORMAL refund paid back outside the platform

    # Refunds holding the payment's money: at most one per payment (a partial unique index).
    LIVE_STATUSES = (Status.PENDING, Status.PROCESSING, Status.FAILED, Status.ABNORMAL)
    DONE_STATUSES = (Status.SUCCEEDED, Status.PAID_OUT)

    payment = models.ForeignKey(
        Payment, verbose_name="收款", on_delete=models.PROTECT, related_name="refunds"
    )
    order = models.ForeignKey(
        RenewalOrder,
        verbose_name="订单",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    out_refund_no = models.CharField("商户退款单号", max_length=64, unique=True)
    amount_fen = models.PositiveIntegerField("退款金额（分）")
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.PENDING)
    refund_id = models.CharField("微信退款单号", max_length=64, blank=True)
    platform_status = models.CharField("平台状态", max_length=32, blank=True)
    reason = models.CharField("退款原因", max_length=80)
    attempts = models.PositiveSmallIntegerField("提交次数", default=0)
    last_error = models.CharField("最近错误", max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("申请时间", default=timezone.now)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    # How an ABNORMAL refund was finished outside the platform, by whom, with which reference.
    settled_how = models.CharField("线下处理方式", max_length=40, blank=True)
    settled_reference = models.CharField("线下处理凭证", max_length=64, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="线下处理人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "退款"
        verbose_name_plural = "退款"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="refund_amount_positive"),
            models.UniqueConstraint(
                fields=["payment"],
                condition=models.Q(status__in=["pending", "processing", "failed", "abnormal"]),
                name="one_live_refund_per_payment",
            ),
        ]
        indexes = [
            # 退款管理's tabs (and their counts) are lists of one or two statuses in request order.
            models.Index(fields=["status", "created_at"], name="refund_status_created_idx"),
            # 退款成功, newest first, and 退款失败/关闭/异常 (an OR no single range of the index above
            # gives in order): read in their own order, a page or a capped count stops early.
            models.Index(
                fields=["finished_at", "id"],
                condition=models.Q(status__in=["succeeded", "paid_out"]),
                name="refund_done_idx",
            ),
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(status__in=["failed", "abnormal", "closed"]),
                name="refund_failed_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.out_refund_no

    @property
    def amount_yuan(self) -> str:
        return yuan(self.amount_fen)


class ReconciliationRun(models.Model):
    """The result of comparing one day's bill from the payment platform with our records."""

    day = models.DateField("账单日期", unique=True)
    payments_ours = models.PositiveIntegerField("本系统支付笔数", default=0)
    payments_bill = models.PositiveIntegerField("账单支付笔数", default=0)
    refunds_ours = models.PositiveIntegerField("本系统退款笔数", default=0)
    refunds_bill = models.PositiveIntegerField("账单退款笔数", default=0)
    paid_total_fen = models.BigIntegerField("本系统收款（分）", default=0)
    refunded_total_fen = models.BigIntegerField("本系统退款（分）", default=0)
    differences = models.JSONField("差异", default=list, blank=True)
    # Money taken and given back at the counter that day: not on WeChat's bill, listed separately.
    counter = models.JSONField("现场收退款", default=dict, blank=True)
    created_at = models.DateTimeField("对账时间", default=timezone.now)

    class Meta:
        verbose_name = "对账结果"
        verbose_name_plural = "对账结果"
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} 对账（差异 {len(self.differences)} 项）"


class RejectReason(models.Model):
    """A reason a reviewer can pick for "审核不通过" (plus free text). Configurable by administrators."""

    text = models.CharField("原因", max_length=100, unique=True)
    active = models.BooleanField("启用", default=True)
    position = models.PositiveSmallIntegerField("排序", default=0)

    class Meta:
        verbose_name = "不通过原因"
        verbose_name_plural = "不通过原因"
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text

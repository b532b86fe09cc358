"""One-time SMS codes and the database throttle counters behind them.

Nothing here holds a phone number or a code in clear: codes are stored as an HMAC bound to their
purpose, plate and session; phones, sessions and plates inside throttle scopes are HMACs too.
"""

from django.db import models
from django.utils import timezone


class OtpCode(models.Model):
    """One code issued for (purpose, plate, browser session).

    A row also exists for a plate that is not on file (``code_hash`` empty, nothing sent), so that
    every later step — attempts, expiry, throttles — behaves the same for known and unknown plates.
    """

    purpose = models.CharField("用途", max_length=32)
    plate = models.CharField("车牌号", max_length=16)
    session_hash = models.CharField("会话摘要", max_length=64)
    # HMAC of the phone on file (or, for an unknown plate, of the plate): the throttle subject.
    phone_hash = models.CharField("手机号摘要", max_length=64)
    # HMAC-SHA256 over (purpose, plate, session, code); empty = never matches (unknown plate).
    code_hash = models.CharField("验证码摘要", max_length=64, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    expires_at = models.DateTimeField("过期时间")
    attempts = models.PositiveSmallIntegerField("错误次数", default=0)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)
    invalidated_at = models.DateTimeField("作废时间", null=True, blank=True)

    class Meta:
        verbose_name = "短信验证码"
        verbose_name_plural = "短信验证码"
        indexes = [
            models.Index(fields=["plate", "session_hash", "purpose"], name="verif_otp_lookup_idx"),
            models.Index(fields=["created_at"], name="verif_otp_created_idx"),
        ]

    def __str__(self) -> str:
        return f"OtpCode #{self.pk} ({self.purpose})"


class ThrottleCounter(models.Model):
    """Events counted for one scope in one window of ``period`` seconds.

    The window starts at the first event after the previous window ended (so "1 per 60 s" means
    60 s after the last accepted send, not "once per clock minute"). Rows are locked with
    ``select_for_update`` while checked and incremented; SQLite serialises writers instead.
    """

    scope = models.CharField("范围", max_length=160)
    period = models.PositiveIntegerField("窗口（秒）")
    window_start = models.DateTimeField("窗口开始")
    count = models.PositiveIntegerField("次数", default=0)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "频率计数"
        verbose_name_plural = "频率计数"
        constraints = [
            models.UniqueConstraint(fields=["scope", "period"], name="verif_throttle_scope_period_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} /{self.period}s = {self.count}"


class IdPhoto(models.Model):
    """An uploaded ID photo (工作证 / 校园一卡通): a private document with an owner and a retention date.

    Only ``campuspass.verification.documents`` creates, shows, attaches and deletes these rows and
    their files. The file is ``<key>.jpg`` in the private store (``STORAGES["id_photos"]``); the
    key is random and never leaves the server (pages name the order, or "the photo of this
    session"). The order it serves is ``photo.order`` (``RenewalOrder.id_photo``, one photo per
    order).
    """

    key = models.CharField("存储键", max_length=32, unique=True, editable=False)
    # The owner binding: the plate the staff member's SMS code unlocked when uploading, and the
    # holder of that plate's pass. Only an order of this plate may use the photo.
    plate = models.CharField("车牌号", max_length=16, db_index=True)
    staff_no = models.CharField("工号", max_length=32, blank=True)
    uploaded_at = models.DateTimeField("上传时间", default=timezone.now)
    width = models.PositiveIntegerField("宽（像素）", default=0)
    height = models.PositiveIntegerField("高（像素）", default=0)
    size = models.PositiveIntegerField("大小（字节）", default=0)
    attached_at = models.DateTimeField("用于订单时间", null=True, blank=True)
    # When the scheduled job deletes it: upload + 1 day until an order uses it; none while the order
    # is open; the decision (or closing) + the campaign's retention days afterwards.
    retain_until = models.DateTimeField("保留至", null=True, blank=True)
    deleted_at = models.DateTimeField("删除时间", null=True, blank=True)

    class Meta:
        verbose_name = "证件照片"
        verbose_name_plural = "证件照片"
        indexes = [
            models.Index(
                fields=["retain_until"],
                condition=models.Q(deleted_at__isnull=True, retain_until__isnull=False),
                name="verif_photo_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"证件照片 #{self.pk}"

    @property
    def name(self) -> str:
        """The file's name in the store."""
        return f"{self.key}.jpg"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

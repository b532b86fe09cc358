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

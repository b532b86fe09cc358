"""Gates (decision 0027): where a pass is valid, the gate devices, what each gate should have and has,
the feed for systems that pull, suspensions and the deny list, and crossings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from campuspass.core import plate_kinds


class GateGroup(models.Model):
    """A car park or a group of gates (e.g. 东门, 地下车库). A pass without groups is valid at every gate."""

    code = models.SlugField("编码", max_length=32, unique=True)
    name = models.CharField("名称", max_length=64)
    passes = models.ManyToManyField(
        "registry.Pass", verbose_name="限定通行证", related_name="gate_groups", blank=True
    )

    class Meta:
        verbose_name = "车场/道闸组"
        verbose_name_plural = "车场/道闸组"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Gate(models.Model):
    """One barrier system we talk to: a vendor platform or camera we push to, or a device that asks us
    (check API) and pulls the list (feed)."""

    class Kind(models.TextChoices):
        HIK_ARTEMIS = "hik_artemis", "海康威视综合安防平台（Artemis OpenAPI）"
        HIK_ISAPI = "hik_isapi", "海康威视抓拍机（ISAPI）"
        DAHUA_ITC = "dahua_itc", "大华抓拍机（CGI）"
        PULL = "pull", "查询/拉取名单的道闸或停车平台"

    PUSH_KINDS = (Kind.HIK_ARTEMIS, Kind.HIK_ISAPI, Kind.DAHUA_ITC)

    name = models.CharField("名称", max_length=64, unique=True)
    kind = models.CharField("类型", max_length=16, choices=Kind.choices)
    group = models.ForeignKey(
        GateGroup, verbose_name="所属车场/道闸组", null=True, blank=True, on_delete=models.PROTECT,
        related_name="gates",
    )  # fmt: skip
    enabled = models.BooleanField("启用", default=True)
    # Push gates: where and who; the secret itself stays in the environment (decision 0027).
    base_url = models.URLField("接口地址", blank=True)
    username = models.CharField("AppKey / 用户名", max_length=64, blank=True)
    secret_env = models.CharField("密钥所在环境变量", max_length=64, blank=True)
    park_code = models.CharField("停车库编码（parkSyscode）", max_length=64, blank=True)
    channel = models.PositiveSmallIntegerField("通道号", default=1)
    # Devices that ask us: their own key (the secret is derived, never stored: keys.py).
    key_id = models.CharField("设备密钥 ID", max_length=32, unique=True, null=True, blank=True)
    key_salt = models.CharField(max_length=64, blank=True)
    key_issued_at = models.DateTimeField("密钥签发时间", null=True, blank=True)
    key_revoked_at = models.DateTimeField("密钥吊销时间", null=True, blank=True)
    # What the office sees.
    last_heartbeat_at = models.DateTimeField("最近心跳", null=True, blank=True)
    last_sync_at = models.DateTimeField("最近成功同步", null=True, blank=True)
    last_full_sync_at = models.DateTimeField("最近全量比对", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True)
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "道闸"
        verbose_name_plural = "道闸"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_push(self) -> bool:
        return self.kind in self.PUSH_KINDS

    @property
    def key_active(self) -> bool:
        return bool(self.key_id) and self.key_revoked_at is None


class PassSuspension(models.Model):
    """The office stopped a pass (e.g. the car broke the rules); lifted, never deleted."""

    pass_obj = models.ForeignKey(
        "registry.Pass", verbose_name="通行证", on_delete=models.PROTECT, related_name="suspensions"
    )
    reason = models.CharField("原因", max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("暂停时间", default=timezone.now)
    lifted_at = models.DateTimeField("恢复时间", null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "通行证暂停"
        verbose_name_plural = "通行证暂停"
        constraints = [
            models.UniqueConstraint(
                fields=["pass_obj"], condition=models.Q(lifted_at__isnull=True), name="one_open_suspension"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pass_obj_id} {self.reason}"


class DenyEntry(models.Model):
    """A plate the gates must refuse (blacklist), whatever pass it has."""

    plate = models.CharField("车牌号", max_length=8, db_index=True)
    plate_colour = models.CharField("车牌颜色", max_length=8, choices=plate_kinds.COLOUR_CHOICES)
    reason = models.CharField("原因", max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("加入时间", default=timezone.now)
    lifted_at = models.DateTimeField("移出时间", null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "禁止通行名单"
        verbose_name_plural = "禁止通行名单"
        constraints = [
            models.UniqueConstraint(
                fields=["plate"], condition=models.Q(lifted_at__isnull=True), name="one_open_deny_per_plate"
            )
        ]

    def __str__(self) -> str:
        return self.plate


class GateEntry(models.Model):
    """What one push gate should have for one plate, and what we last know it has. Only plates we put
    on a gate have a row: anything else on the gate is someone else's and is left alone."""

    class ListType(models.TextChoices):
        ALLOW = "allow", "白名单"
        DENY = "deny", "黑名单"
        NONE = "none", "移除"

    class State(models.TextChoices):
        PENDING = "pending", "待同步"
        CONFIRMING = "confirming", "已提交，待确认"
        SYNCED = "synced", "已同步"
        FAILED = "failed", "同步失败"

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="entries")
    plate = models.CharField("车牌号", max_length=8)
    plate_colour = models.CharField("车牌颜色", max_length=8, choices=plate_kinds.COLOUR_CHOICES)
    list_type = models.CharField("应有", max_length=8, choices=ListType.choices)
    valid_from = models.DateField("有效期起", null=True, blank=True)
    valid_to = models.DateField("有效期止", null=True, blank=True)
    desired_hash = models.CharField(max_length=64)
    pushed_hash = models.CharField(max_length=64, blank=True)  # what the gate has, as far as we know
    remote_id = models.CharField("设备记录 ID", max_length=64, blank=True)
    state = models.CharField("同步状态", max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True, db_index=True)
    review_at = models.DateTimeField("到期复核", null=True, blank=True, db_index=True)
    last_error = models.CharField("最近错误", max_length=300, blank=True)
    synced_at = models.DateTimeField("同步时间", null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "道闸名单条目"
        verbose_name_plural = "道闸名单条目"
        constraints = [models.UniqueConstraint(fields=["gate", "plate"], name="one_entry_per_gate_plate")]

    def __str__(self) -> str:
        return f"{self.gate} {self.plate}"


class FeedEntry(models.Model):
    """The list as systems that pull see it: one row per plate we ever published, `seq` from
    FeedChange, so "everything after cursor N" is one indexed query."""

    class Status(models.TextChoices):
        NORMAL = "normal", "正常"
        SUSPENDED = "suspended", "暂停"
        DELETED = "deleted", "删除"

    plate = models.CharField(max_length=8, unique=True)
    plate_colour = models.CharField(max_length=8)
    plate_type = models.CharField(max_length=2)
    status = models.CharField(max_length=10, choices=Status.choices)
    valid_from = models.DateField(null=True)
    valid_to = models.DateField(null=True)
    groups = models.JSONField(default=list)  # group codes; [] = every gate
    seq = models.BigIntegerField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.plate} {self.status}"


class FeedChange(models.Model):
    """Append-only: its id is the feed's cursor."""

    plate = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.pk} {self.plate}"


class GateNonce(models.Model):
    """A nonce a gate device used: never accepted twice (kept past the ±300 s window, then pruned)."""

    key_id = models.CharField(max_length=32)
    nonce = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_id", "nonce"], name="gate_nonce_once")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.nonce}"


class Crossing(models.Model):
    """A car passing a gate, as the gate reported it (kept 90 days)."""

    gate = models.ForeignKey(Gate, on_delete=models.CASCADE, related_name="crossings")
    plate = models.CharField(max_length=8, db_index=True)
    direction = models.CharField(max_length=3, choices=[("in", "入"), ("out", "出")])
    allowed = models.BooleanField()
    crossed_at = models.DateTimeField(db_index=True)
    event_id = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gate", "event_id"], name="crossing_once")]

    def __str__(self) -> str:
        return f"{self.gate_id} {self.plate} {self.direction}"

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class LogEntry(models.Model):
    """One line of the audit log: who did what to which object, when, why, with which data.

    Rows are only ever added (by `campuspass.core.audit.log_action` and friends), never changed.
    `plate` and `staff_no` are copied in so the log can be searched by person and vehicle without
    joining through objects that may have changed since.
    """

    created_at = models.DateTimeField("时间", default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField("操作人名称", max_length=150)
    action = models.CharField("操作", max_length=100)  # indexed in Meta: one pattern index
    content_type = models.ForeignKey(
        ContentType,
        verbose_name="对象类型",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        db_index=False,  # the (content_type, object_id) index below serves every lookup
    )
    object_id = models.CharField("对象 ID", max_length=64, blank=True)
    object_repr = models.CharField("对象", max_length=200, blank=True)
    # Searched by exact value only (a whole plate, a staff number): a plain B-tree each, declared in
    # Meta, without the `varchar_pattern_ops` copy that db_index=True adds on PostgreSQL for
    # LIKE 'prefix%' — no query of the log asks for a prefix of either (decision 0021 addendum).
    plate = models.CharField("车牌号", max_length=16, blank=True)
    staff_no = models.CharField("工号", max_length=32, blank=True)
    reason = models.TextField("原因", blank=True)
    data = models.JSONField("数据", default=dict, blank=True)

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="core_log_object_idx"),
            # An action is looked up by =, IN and LIKE 'prefix%' (the action filter, the audit
            # screen): one varchar_pattern_ops index serves all three (db_index=True made two).
            models.Index(fields=["action"], name="core_log_action_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["plate"], name="core_log_plate_idx"),
            models.Index(fields=["staff_no"], name="core_log_staff_no_idx"),
        ]

    def __str__(self) -> str:
        # Beijing time, as everywhere a person reads the log.
        when = self.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
        return f"{when:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"


class PasswordState(models.Model):
    """Whether a user must choose their own password before anything else. Set when someone else
    chose it (an administrator creating the account or resetting its password, the demo loader);
    cleared when the user changes it themselves (`campuspass.core.signin`)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="用户",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="password_state",
    )
    must_change = models.BooleanField("首次登录须修改密码", default=True)
    set_by_other_at = models.DateTimeField("他人设置密码时间", null=True, blank=True)
    changed_at = models.DateTimeField("本人修改密码时间", null=True, blank=True)

    class Meta:
        verbose_name = "密码状态"
        verbose_name_plural = "密码状态"

    def __str__(self) -> str:
        return f"{self.user_id}: {'须修改' if self.must_change else '已修改'}"


class PeriodicRun(models.Model):
    """One fire time of a periodic job, claimed by the scheduler that enqueued it (decision 0018).

    The unique (job, due_at) pair is the lock: however many schedulers run, one insert wins and only
    that scheduler enqueues. A `baseline` row only records when a job was first seen."""

    job = models.CharField("任务", max_length=200)
    due_at = models.DateTimeField("计划时间")
    claimed_at = models.DateTimeField("放入队列时间", default=timezone.now, db_index=True)
    claimed_by = models.CharField("调度进程", max_length=100, blank=True)
    baseline = models.BooleanField("仅记录起点", default=False)

    class Meta:
        verbose_name = "定时任务运行记录"
        verbose_name_plural = "定时任务运行记录"
        constraints = [models.UniqueConstraint(fields=["job", "due_at"], name="core_periodic_run_once")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.due_at:%Y-%m-%d %H:%M}"

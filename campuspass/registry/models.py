import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Right, Upper

from campuspass.core import plate_kinds


class Staff(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "在职"
        LEFT = "left", "离职"
        RETIRED = "retired", "退休"

    staff_no = models.CharField("工号", max_length=32, unique=True)
    name = models.CharField("姓名", max_length=64)
    department = models.CharField("部门", max_length=128, blank=True)
    mobile = models.CharField("手机号", max_length=11)  # indexed in Meta (whole number; its tail)
    status = models.CharField("人员状态", max_length=16, choices=Status.choices)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "职工"
        verbose_name_plural = "职工"
        ordering = ["staff_no"]
        # The search's exact lookups (registry.selectors.staff_ids; decision 0038). The substring
        # lookups use trigram indexes made on PostgreSQL only (migration 0005).
        indexes = [
            models.Index(Upper("staff_no"), name="staff_no_upper_idx"),
            models.Index(fields=["name"], name="staff_name_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(Right("mobile", 4), name="staff_mobile_tail_idx"),
            # A whole mobile number (=); no prefix of one is searched, so without the pattern copy
            # db_index=True added on PostgreSQL (decision 0021 addendum: each index is paid per
            # imported row).
            models.Index(fields=["mobile"], name="staff_mobile_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.staff_no}）"


class Vehicle(models.Model):
    plate = models.CharField("车牌号", max_length=8, unique=True)
    vehicle_type = models.CharField("车辆类型", max_length=32, blank=True)
    brand_model = models.CharField("品牌型号", max_length=64, blank=True)
    color = models.CharField("车身颜色", max_length=16, blank=True)
    # What barrier gates match on besides the plate (decision 0026); inferred from the plate when a
    # registry file does not say.
    plate_colour = models.CharField(
        "车牌颜色", max_length=8, choices=plate_kinds.COLOUR_CHOICES, default=plate_kinds.BLUE
    )
    plate_type = models.CharField(
        "号牌种类", max_length=2, choices=plate_kinds.TYPE_CHOICES, default=plate_kinds.SMALL
    )
    owner = models.ForeignKey(Staff, verbose_name="车主", on_delete=models.PROTECT, related_name="vehicles")
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "车辆"
        verbose_name_plural = "车辆"
        ordering = ["plate"]

    def __str__(self) -> str:
        return self.plate


class Pass(models.Model):
    class ReviewStatus(models.TextChoices):
        APPROVED = "approved", "审核通过"
        REJECTED = "rejected", "审核未通过"
        PENDING = "pending", "待审核"

    class Source(models.TextChoices):
        IMPORT = "import", "导入"
        ONSITE = "onsite", "现场办理"
        RENEWAL = "renewal", "线上续费"
        ADMIN = "admin", "后台录入"

    year = models.PositiveSmallIntegerField("年度")
    number = models.CharField("通行证编号", max_length=32)
    vehicle = models.ForeignKey(Vehicle, verbose_name="车辆", on_delete=models.PROTECT, related_name="passes")
    holder = models.ForeignKey(Staff, verbose_name="持证人", on_delete=models.PROTECT, related_name="passes")
    review_status = models.CharField("审核状态", max_length=16, choices=ReviewStatus.choices)
    valid_from = models.DateField("有效期起", null=True, blank=True)
    valid_to = models.DateField("有效期止", null=True, blank=True)
    source = models.CharField("来源", max_length=16, choices=Source.choices, default=Source.IMPORT)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "通行证"
        verbose_name_plural = "通行证"
        ordering = ["-year", "number"]
        indexes = [
            models.Index(Upper("number"), name="pass_number_upper_idx"),  # decision 0038
            # the list's own order (newest year first, then number): the first page without sorting
            # a million passes
            models.Index(fields=["-year", "number"], name="pass_year_desc_number_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["year", "number"], name="pass_unique_number_per_year"),
            models.UniqueConstraint(fields=["year", "vehicle"], name="pass_unique_vehicle_per_year"),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_to__isnull=True)
                | models.Q(valid_from__lte=models.F("valid_to")),
                name="pass_valid_from_before_to",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.number}"


class ImportJob(models.Model):
    """One registry file uploaded in the back office: previewed (dry run), then imported.

    The file itself is kept under PRIVATE_STORAGE_ROOT (never served); progress while a job runs
    is kept in the "progress" cache, outside the import's own transaction.
    """

    class State(models.TextChoices):
        UPLOADED = "uploaded", "已上传"
        PREVIEWING = "previewing", "预览中"
        PREVIEWED = "previewed", "已预览"
        CONFIRMED = "confirmed", "已确认，等待导入"
        IMPORTING = "importing", "导入中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    file_name = models.CharField("文件名", max_length=255)
    stored_path = models.CharField("存储路径", max_length=255)
    file_sha256 = models.CharField("文件 SHA-256", max_length=64)
    size = models.PositiveBigIntegerField("大小（字节）")
    year = models.PositiveSmallIntegerField("指定年度", null=True, blank=True)
    state = models.CharField("状态", max_length=16, choices=State.choices, default=State.UPLOADED)
    preview = models.JSONField("预览结果", null=True, blank=True)
    report = models.JSONField("导入结果", null=True, blank=True)
    error = models.TextField("错误", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="上传人",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.file_name}（{self.get_state_display()}）"

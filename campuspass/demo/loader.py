"""Demo data for `make run`: the sample registry, a campaign whose window contains today, and
back-office users whose passwords are printed. Safe to run again: nothing is duplicated and
passwords are kept in a file only the machine's user can read."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.registry.columns import HEADERS
from campuspass.registry.imports import ImportReport, import_passes
from campuspass.registry.models import Pass

SAMPLE_NAMES = ("passes-2018-sample.xlsx", "passes-2018-sample.csv")
CONSENT_TEXT = (
    "机动车通行证办理知情同意书\n\n"
    "一、本人承诺所提交的职工、车辆及证件信息真实、准确，与保卫处登记信息一致。\n"
    "二、本人知悉：线上续费仅限在职职工、上一年度审核通过的北京号牌（京字头）车辆；新入职职工、新购车辆、"
    "信息变更及外省（市）号牌车辆须到现场办理。\n"
    "三、本人知悉：缴费后保卫处将进行审核，审核未通过的订单可在“订单记录”中申请退款，"
    "款项将在 2 小时至 15 天内原路退回。\n"
    "四、通行证仅限登记车辆在校内使用，不得转借、涂改或复制，违者收回通行证。\n"
    "五、本人同意保卫处为办理通行证之目的使用本人提交的信息及工作证照片，"
    "照片在审核完成后按规定期限删除。"
)
DEMO_USERS = [
    # username, display name, role (a back-office group), superuser
    ("admin", "系统管理员", "管理员", True),
    ("reviewer", "审核员（演示）", "审核员", False),
    ("counter", "窗口（演示）", "窗口", False),
    ("courier", "配送（演示）", "配送", False),
    ("finance", "财务（演示）", "财务", False),
]


def shared_data_dir() -> Path:
    return settings.BASE_DIR.parent / "shared" / "data"


def find_sample() -> Path | None:
    for name in SAMPLE_NAMES:
        candidate = shared_data_dir() / name
        if candidate.is_file():
            return candidate
    return None


SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文辉"
DEPARTMENTS = ["基础医学院", "药学院", "公共卫生学院", "护理学院", "医学人文学院", "后勤党委", "图书馆"]
BRANDS = ["大众 朗逸", "丰田 卡罗拉", "本田 雅阁", "别克 君威", "比亚迪 秦PLUS", "特斯拉 Model 3"]
COLORS = ["白色", "黑色", "银色", "灰色", "红色", "蓝色"]
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def generate_registry(path: Path, *, rows: int, year: int, seed: int = 2018) -> Path:
    """A synthetic registry file in the import format (used when shared/ is absent, and by the
    benchmark). Mostly approved, local, in-service passes, with some of every other case."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    path.parent.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        staff_no = 10_000_000
        for n in range(1, rows + 1):
            # One person in twenty holds passes for two vehicles.
            if n == 1 or rng.random() > 0.05:
                staff_no += 1
                name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
                mobile = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
                status = rng.choices(["在职", "离职", "退休"], weights=[94, 3, 3])[0]
                dept = rng.choice(DEPARTMENTS)
            new_energy = rng.random() < 0.15
            while True:
                prefix = rng.choices(["京", "冀", "津"], weights=[92, 5, 3])[0]
                if new_energy:  # small new-energy plates: D or F, a letter or digit, four digits
                    tail = rng.choice("DF") + rng.choice(PLATE_CHARS) + f"{rng.randrange(10_000):04d}"
                else:
                    tail = "".join(rng.choice(PLATE_CHARS) for _ in range(5))
                plate = prefix + rng.choice(PLATE_LETTERS) + tail
                if plate not in used:
                    used.add(plate)
                    break
            review = rng.choices(["审核通过", "审核未通过", "待审核"], weights=[95, 3, 2])[0]
            writer.writerow(
                [
                    staff_no,
                    name,
                    dept,
                    mobile,
                    status,
                    plate,
                    "新能源小型汽车" if new_energy else "小型汽车",
                    rng.choice(BRANDS),
                    rng.choice(COLORS),
                    "绿" if new_energy else "蓝",
                    "小型新能源汽车" if new_energy else "小型汽车",
                    f"YXB{year}{n:06d}",
                    year,
                    review,
                    f"{year}-07-01",
                    f"{year + 1}-06-30",
                ]
            )
    return path


@dataclass
class DemoResult:
    registry_file: str
    registry_report: dict
    campaign: str
    credentials: dict[str, str]


def credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def ensure_users() -> dict[str, str]:
    """Create the demo's back-office users once; their passwords are kept in var/ (0600) so every
    run of `make run` can print them again."""
    path = credentials_file()
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    from django.contrib.auth.models import Group

    from campuspass.core.roles import ensure_groups
    from campuspass.core.signin import require_password_change

    ensure_groups()
    User = get_user_model()
    for username, display, role, superuser in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None or username not in saved:
            password = secrets.token_urlsafe(9)
            if user is None:
                # Only the administrator may use the Django admin (raw data maintenance).
                user = User(username=username, first_name=display, is_staff=superuser, is_superuser=superuser)
            user.set_password(password)
            user.save()
            # Chosen by the loader, not by the person: changed at the first sign-in.
            require_password_change(user)
            saved[username] = password
        user.groups.add(Group.objects.get(name=role))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, ensure_ascii=False, indent=2))
    os.chmod(path, 0o600)
    return saved


def ensure_campaign(previous_year: int):
    """A campaign for the current year whose online window contains today."""
    from campuspass.renewals.models import Campaign, ConsentVersion

    today = timezone.localdate()
    year = today.year
    campaign = Campaign.objects.filter(year=year).first()
    if campaign is None:
        start = timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=2), dt.time(8, 0)))
        campaign = Campaign.objects.create(
            year=year,
            previous_year=previous_year,
            product_name=f"{year}年医学部机动车通行证",
            price_fen=15000,
            window_start=start,
            window_end=start + dt.timedelta(days=14),
            valid_from=today,
            valid_to=dt.date(year + 1, 6, 30) if today.month >= 7 else dt.date(year, 12, 31),
        )
        log_action(actor=None, action="renewals.campaign.created", obj=campaign, reason="演示数据")
    if not campaign.consent_versions.exists():
        ConsentVersion.objects.create(
            campaign=campaign, version=1, text=CONSENT_TEXT, sha256=ConsentVersion.hash_text(CONSENT_TEXT)
        )
    return campaign


def load_demo(*, progress=None, empty_registry: bool = False) -> DemoResult:
    """The demo: the sample registry, a campaign whose window contains today, one user per role.
    ``empty_registry``: no registry rows (start from your own import in 导入)."""
    if empty_registry:
        sample, report = "（空登记库：未导入样例）", ImportReport(file="", dry_run=False)
        return _finish(str(sample), report)
    sample = find_sample()
    if sample is None:
        sample = generate_registry(Path(settings.VAR_DIR) / "demo" / "passes-sample.csv", rows=300, year=2018)
    report = import_passes(path=sample, progress=progress)
    return _finish(str(sample), report)


def _finish(sample: str, report) -> DemoResult:
    previous_year = (
        Pass.objects.filter(review_status=Pass.ReviewStatus.APPROVED)
        .order_by("-year")
        .values_list("year", flat=True)
        .first()
        or timezone.localdate().year - 1
    )
    with transaction.atomic():
        campaign = ensure_campaign(previous_year)
        credentials = ensure_users()
    return DemoResult(sample, report.as_dict(), str(campaign), credentials)

"""Small builders for renewal tests: a campaign, a previous-year pass, an order."""

import datetime as dt
import itertools

from django.utils import timezone

from campuspass.registry.models import Pass, Staff, Vehicle
from campuspass.renewals.models import Campaign, ConsentVersion

_seq = itertools.count(1)


def make_campaign(**overrides) -> Campaign:
    now = timezone.now()
    values = {
        "year": 2019,
        "previous_year": 2018,
        "product_name": "2019年医学部机动车通行证",
        "price_fen": 15000,
        "window_start": now - dt.timedelta(days=1),
        "window_end": now + dt.timedelta(days=6),
        "valid_from": timezone.localdate() - dt.timedelta(days=10),
        "valid_to": timezone.localdate() + dt.timedelta(days=355),
    }
    values.update(overrides)
    campaign = Campaign.objects.create(**values)
    text = "本人承诺所提交信息真实有效。"
    ConsentVersion.objects.create(
        campaign=campaign, version=1, text=text, sha256=ConsentVersion.hash_text(text)
    )
    return campaign


def make_pass(
    *,
    plate=None,
    year=2018,
    status=Staff.Status.ACTIVE,
    review=Pass.ReviewStatus.APPROVED,
    staff=None,
    mobile=None,
) -> Pass:
    n = next(_seq)
    if staff is None:
        staff = Staff.objects.create(
            staff_no=f"9{n:07d}",
            name=f"职工{n}",
            department="基础医学院",
            mobile=mobile or f"139{n:08d}",
            status=status,
        )
    vehicle = Vehicle.objects.create(plate=plate or f"京A{n:05d}", owner=staff, vehicle_type="小型汽车")
    return Pass.objects.create(
        year=year,
        number=f"YXB{year}{n:05d}",
        vehicle=vehicle,
        holder=staff,
        review_status=review,
        valid_from=dt.date(year, 7, 1),
        valid_to=dt.date(year + 1, 6, 30),
    )

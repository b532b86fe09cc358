"""Issue 14 item 13: "一个工作日后" counts whole printing days of the office; a campaign setting."""

import datetime as dt

import pytest

from campuspass.renewals.selectors import pickup_rule
from campuspass.renewals.workdays import pickup_date
from tests.renewals.factories import make_campaign

TZ = dt.timezone(dt.timedelta(hours=8))
CUTOFF = dt.time(15, 0)


def at(day: str, hour: int) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=TZ)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("approved", "days", "expected"),
    [
        (at("2025-03-09", 22), 1, "2025-03-11"),  # Sunday night: Monday prints, Tuesday pickup
        (at("2025-03-10", 10), 1, "2025-03-11"),  # Monday morning: printed that day
        (at("2025-03-10", 20), 1, "2025-03-12"),  # Monday evening: Tuesday prints
        (at("2025-03-14", 16), 1, "2025-03-18"),  # Friday after the cut-off: Monday prints
        (at("2025-03-08", 9), 2, "2025-03-12"),  # Saturday, two printing days: Mon+Tue
        (at("2025-03-09", 22), 0, "2025-03-10"),  # no printing: the next working day
    ],
)
def test_pickup_date_gives_the_office_whole_printing_days(approved, days, expected):
    assert pickup_date(approved, printing_days=days, cutoff=CUTOFF).isoformat() == expected


@pytest.mark.django_db
def test_the_rule_is_said_from_the_campaign_setting():
    campaign = make_campaign(pickup_delay_working_days=2, print_cutoff=dt.time(14, 30))
    rule = pickup_rule(campaign)
    assert "审核通过后第 2 个工作日起" in rule and "14:30 以后或休息日审核通过的，顺延一个工作日" in rule

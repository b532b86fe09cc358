"""Pickup "one working day later": weekends, public holidays, make-up working days, entered days."""

import datetime as dt

import pytest

from campuspass.renewals.models import Holiday
from campuspass.renewals.workdays import add_working_days, is_working_day

pytestmark = pytest.mark.django_db


def test_next_working_day_after_a_weekday():
    assert add_working_days(dt.date(2019, 6, 12), 1) == dt.date(2019, 6, 13)  # Wed → Thu


def test_friday_approval_picks_up_on_monday():
    assert add_working_days(dt.date(2019, 6, 14), 1) == dt.date(2019, 6, 17)


def test_public_holiday_is_skipped():
    # Dragon Boat Festival 2019: Friday 7 June was a holiday.
    assert add_working_days(dt.date(2019, 6, 6), 1) == dt.date(2019, 6, 10)


def test_make_up_working_day_counts():
    # National Day 2019: Saturday 12 October was a make-up working day.
    assert is_working_day(dt.date(2019, 10, 12))
    assert add_working_days(dt.date(2019, 10, 11), 1) == dt.date(2019, 10, 12)


def test_holidays_entered_in_the_back_office_win():
    Holiday.objects.create(date=dt.date(2027, 1, 1), is_workday=False, name="元旦")
    Holiday.objects.create(date=dt.date(2027, 1, 2), is_workday=True, name="调休上班")
    assert not is_working_day(dt.date(2027, 1, 1))
    assert add_working_days(dt.date(2026, 12, 31), 1) == dt.date(2027, 1, 2)


def test_years_the_package_does_not_know_fall_back_to_weekdays():
    assert add_working_days(dt.date(2031, 3, 7), 1) == dt.date(2031, 3, 10)  # Fri → Mon


def test_zero_days_means_today_or_the_next_working_day():
    assert add_working_days(dt.date(2019, 6, 15), 0) == dt.date(2019, 6, 17)
    assert add_working_days(dt.date(2019, 6, 17), 0) == dt.date(2019, 6, 17)

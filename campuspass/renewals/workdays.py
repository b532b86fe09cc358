"""Working days for "pickup one working day later": weekends, Chinese public holidays and their
make-up working days. Days entered in the back office (Holiday) win; then the chinese-calendar
package for the years it knows; otherwise Monday to Friday."""

import datetime as dt

import chinese_calendar

from .models import Holiday


def _overrides(start: dt.date, end: dt.date) -> dict[dt.date, bool]:
    return dict(Holiday.objects.filter(date__range=(start, end)).values_list("date", "is_workday"))


def _builtin_is_workday(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:  # a year the package has no data for
        return day.weekday() < 5


def is_working_day(day: dt.date) -> bool:
    override = _overrides(day, day).get(day)
    return _builtin_is_workday(day) if override is None else override


def add_working_days(start: dt.date, count: int) -> dt.date:
    """The `count`-th working day after `start` (count 0: start itself if it is a working day,
    else the next one)."""
    if count < 0:
        raise ValueError("count must not be negative")
    # Long holidays (Spring Festival) are at most ~10 days; 60 days of overrides cover any count
    # the campaign allows.
    overrides = _overrides(start, start + dt.timedelta(days=60 + count * 3))

    def working(day: dt.date) -> bool:
        value = overrides.get(day)
        return _builtin_is_workday(day) if value is None else value

    day = start
    if count == 0:
        while not working(day):
            day += dt.timedelta(days=1)
        return day
    remaining = count
    while remaining:
        day += dt.timedelta(days=1)
        if working(day):
            remaining -= 1
    return day

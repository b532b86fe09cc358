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


def pickup_date(approved_at: dt.datetime, *, printing_days: int, cutoff: dt.time) -> dt.date:
    """The first day a pass approved at `approved_at` (local time) can be collected (decision 0024).

    The office prints on working days. A working day counts as the first printing day only when
    the approval came before `cutoff`; otherwise (evening, weekend, holiday) printing starts on the
    next working day. After `printing_days` printing days the pass can be collected on the next
    working day. 0 printing days: collectable from the first working day not before approval.
    Monday 10:00, 1 day → Tuesday; Monday 20:00 → Wednesday; Sunday → Tuesday."""
    day = approved_at.date()
    if printing_days == 0:
        return add_working_days(day, 0)
    first = day if is_working_day(day) and approved_at.time() < cutoff else add_working_days(day, 1)
    last = add_working_days(first, printing_days - 1)
    return add_working_days(last, 1)


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

"""One selector for "find this person": every screen that looks people up (the counter, the on-site
desk, the admin's search boxes, the audit log's plate filter, the order search of the renewal core)
reads the query the same way, here.

A query finds a staff member by:
- 工号: exactly (any case) or a part of it (3+ ASCII letters/digits, e.g. "0001" for "20010001");
- 姓名: exactly or a part of it (2+ characters);
- 车牌号: any spelling of a whole plate ("京a·12345", "京 A-12345") or a part of one (4+ characters
  after the same cleaning, e.g. "A1234" or "12345");
- 手机号: the whole number in any spelling ("+86 138-1234-5678") or its last 4 digits;
- 通行证编号: exactly, any year (so the new pass of an approved order finds its holder too).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from campuspass.core.fieldrules import strip_controls
from campuspass.core.phones import InvalidPhone, normalize_phone
from campuspass.core.plates import SEPARATORS, plate_search_variants

from .models import Staff

_ALNUM_ASCII = re.compile(r"[0-9A-Za-z]+")
_FOUR_DIGITS = re.compile(r"[0-9]{4}")


@dataclass(frozen=True)
class Query:
    """A search box's text read once: what it can be a spelling of."""

    text: str
    plate: str | None  # a whole plate, canonical
    plate_part: str | None  # a part of a plate, cleaned like one
    phone: str | None  # a whole mobile number, canonical
    phone_tail: str | None  # the last 4 digits of a mobile number
    staff_no_part: str | None  # a part of a staff number

    @classmethod
    def read(cls, raw: object) -> Query:
        text = " ".join(strip_controls(raw).split())[:100]
        plate = plate_search_variants(text) if text else None
        cleaned = "".join(
            ch
            for ch in unicodedata.normalize("NFKC", text).upper()
            if not ch.isspace() and ch not in SEPARATORS
        )
        phone = None
        with contextlib.suppress(InvalidPhone):
            phone = normalize_phone(text) if text else None
        return cls(
            text=text,
            plate=plate,
            plate_part=cleaned if plate is None and len(cleaned) >= 4 else None,
            phone=phone,
            phone_tail=text if _FOUR_DIGITS.fullmatch(text) else None,
            staff_no_part=text if len(text) >= 3 and _ALNUM_ASCII.fullmatch(text) else None,
        )


def staff_q(query: Query, prefix: str = "") -> Q:
    """The condition on Staff (or on a model reaching Staff through `prefix`, e.g. "staff__")."""
    if not query.text:
        return Q(pk__in=[])
    p = prefix
    condition = Q(**{f"{p}staff_no__iexact": query.text}) | Q(**{f"{p}name": query.text})
    if len(query.text) >= 2:
        condition |= Q(**{f"{p}name__contains": query.text})
    if query.staff_no_part:
        condition |= Q(**{f"{p}staff_no__icontains": query.staff_no_part})
    if query.plate:
        condition |= Q(**{f"{p}vehicles__plate": query.plate}) | Q(
            **{f"{p}passes__vehicle__plate": query.plate}
        )
    elif query.plate_part:
        condition |= Q(**{f"{p}vehicles__plate__contains": query.plate_part})
    if query.phone:
        condition |= Q(**{f"{p}mobile": query.phone})
    if query.phone_tail:
        condition |= Q(**{f"{p}mobile__endswith": query.phone_tail})
    condition |= Q(**{f"{p}passes__number__iexact": "".join(query.text.split())})
    return condition


def find_staff(raw: object, *, limit: int = 50) -> QuerySet[Staff]:
    """The staff members the query finds (at most `limit`), ordered by staff number."""
    query = Query.read(raw)
    if not query.text:
        return Staff.objects.none()
    ids = list(Staff.objects.filter(staff_q(query)).values_list("pk", flat=True).distinct()[:limit])
    return Staff.objects.filter(pk__in=ids).order_by("staff_no")


def plate_q(query: Query, lookup: str) -> Q:
    """A whole plate in any spelling, or a part of one, on the field `lookup` (admin search boxes,
    the audit log's plate filter)."""
    if query.plate:
        return Q(**{lookup: query.plate})
    if query.plate_part:
        return Q(**{f"{lookup}__contains": query.plate_part})
    return Q(pk__in=[])


def phone_q(query: Query, lookup: str) -> Q:
    """A whole mobile number in any spelling, or its last 4 digits, on the field `lookup`."""
    condition = Q(pk__in=[])
    if query.phone:
        condition |= Q(**{lookup: query.phone})
    if query.phone_tail:
        condition |= Q(**{f"{lookup}__endswith": query.phone_tail})
    return condition

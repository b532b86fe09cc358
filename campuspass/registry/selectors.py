"""One selector for "find this person": every screen that looks people up (the counter, the on-site
desk, the admin's search boxes, the audit log's plate filter, the order search of the renewal core)
reads the query the same way, here.

A query finds a staff member by:
- 工号: exactly (any case) or a part of it (3+ ASCII letters/digits, e.g. "0001" for "20010001");
- 姓名: exactly, its first two characters, or a part of it (3+ characters);
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
from django.db.models.functions import Right

from campuspass.core.fieldrules import strip_controls
from campuspass.core.phones import InvalidPhone, normalize_phone
from campuspass.core.plates import SEPARATORS, plate_search_variants

from .fields import STAFF_NO_RE
from .models import Staff

_ALNUM_ASCII = re.compile(r"[0-9A-Za-z]+")
_FOUR_DIGITS = re.compile(r"[0-9]{4}")


def _may_be_plate_part(cleaned: str) -> bool:
    """4 to 8 characters of which at least 2 are ASCII letters or digits: a plate has 7 or 8
    characters (a phone number is longer) and only its first and last may be Chinese (京, 学/警…),
    so a name ("欧阳明月") is no part of one."""
    return 4 <= len(cleaned) <= 8 and sum(ch.isascii() and ch.isalnum() for ch in cleaned) >= 2


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
            plate_part=cleaned if plate is None and _may_be_plate_part(cleaned) else None,
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


def _phone_tail(queryset: QuerySet, field: str, tail: str) -> QuerySet:
    """Rows whose phone ends with these 4 digits, through the index on RIGHT(phone, 4)."""
    return queryset.alias(_tail=Right(field, 4)).filter(_tail=tail)


def _may_be_name(query: Query) -> bool:
    """Whether the text can be a 姓名: a whole plate, a whole phone number or a run of digits alone
    (a 工号, a phone's last digits) is not looked up among the names (issue 13, fewer statements)."""
    return not (query.plate or query.phone or (query.text.isascii() and query.text.isdigit()))


def plate_vehicles(query: Query, *, limit: int = 50) -> list[tuple[int, int]]:
    """(vehicle id, owner id) of the vehicles of a whole plate (unique index) or of a part of one
    (trigram index): read once per search, for the owners here and for the admin's vehicle and
    pass lists."""
    from .models import Vehicle

    vehicles = Vehicle.objects.values_list("pk", "owner_id")
    if query.plate:
        return list(vehicles.filter(plate=query.plate)[:limit])
    if query.plate_part:
        return list(vehicles.filter(plate__contains=query.plate_part)[:limit])
    return []


def numbered_passes(query: Query, *, limit: int = 50) -> list[tuple[int, int]]:
    """(pass id, holder id) of the passes whose 通行证编号 the text is (any year, any case)."""
    from .models import Pass

    number = "".join(query.text.split())
    if not number:
        return []
    return list(Pass.objects.filter(number__iexact=number).values_list("pk", "holder_id")[:limit])


def staff_ids(
    query: Query,
    *,
    limit: int = 50,
    vehicles: list[tuple[int, int]] | None = None,
    passes: list[tuple[int, int]] | None = None,
) -> list[int]:
    """The ids of the staff members a query finds (at most `limit`): what ``staff_q`` means, asked as
    separate lookups that each use one index (issue 13, decision 0038) — exact and whole values
    first (工号, name, plate, phone, pass number; the phone's last 4 digits through RIGHT(mobile, 4)),
    then the parts (name, 工号 and plate substrings, through trigram indexes on PostgreSQL). One OR
    across tables can use no index at all; a million-row registry then answers in seconds.

    Lookups that cannot match are not asked (decision 0038, addendum 2): the 工号 only for text
    that can be one (``STAFF_NO_RE``), the names only for text that can be a name, the passes of
    a plate only when it has vehicles. `vehicles` and `passes`, when given, are ``plate_vehicles``
    and ``numbered_passes`` already read by the caller, who needs them too."""
    if not query.text:
        return []
    from .models import Pass

    if vehicles is None:
        vehicles = plate_vehicles(query, limit=limit)
    found: dict[int, None] = {}
    staff = Staff.objects.values_list("pk", flat=True)
    name = _may_be_name(query)
    lookups: list[QuerySet | list[int]] = []
    if STAFF_NO_RE.fullmatch(query.text):
        lookups.append(staff.filter(staff_no__iexact=query.text))
    if name:
        lookups.append(staff.filter(name=query.text))
    if query.plate and vehicles:
        lookups.append([owner for _, owner in vehicles])
        lookups.append(
            Pass.objects.filter(vehicle_id__any=[pk for pk, _ in vehicles]).values_list(
                "holder_id", flat=True
            )
        )
    if query.phone:
        lookups.append(staff.filter(mobile=query.phone))
    if query.phone_tail:
        lookups.append(_phone_tail(staff, "mobile", query.phone_tail))
    if passes is None:
        lookups.append(
            Pass.objects.filter(number__iexact="".join(query.text.split())).values_list(
                "holder_id", flat=True
            )
        )
    else:
        lookups.append([holder for _, holder in passes])
    if name and len(query.text) >= 3:
        lookups.append(staff.filter(name__contains=query.text))  # trigram index
    elif name and len(query.text) == 2:
        # Two characters make no trigram: the names that begin with them (surname and first
        # character of the given name), through the name's pattern index.
        lookups.append(staff.filter(name__startswith=query.text))
    if query.staff_no_part:
        lookups.append(staff.filter(staff_no__icontains=query.staff_no_part))
    if not query.plate and query.plate_part:
        lookups.append([owner for _, owner in vehicles])
    for lookup in lookups:
        for pk in lookup[:limit]:
            found.setdefault(pk)
        if len(found) >= limit:
            break
    return list(found)[:limit]


def find_staff(raw: object, *, limit: int = 50) -> QuerySet[Staff]:
    """The staff members the query finds (at most `limit`), ordered by staff number."""
    query = Query.read(raw)
    if not query.text:
        return Staff.objects.none()
    return Staff.objects.filter(pk__in=staff_ids(query, limit=limit)).order_by("staff_no")


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

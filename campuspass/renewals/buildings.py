"""The building a campus address starts with (送证上门 groups its deliveries by it). Kept on the order
as `RenewalOrder.delivery_building` whenever its address is saved, so the delivery screen groups and
counts in the database instead of reading every pending address (issue 13)."""

from __future__ import annotations

import re
import unicodedata

_FLOOR_NUMERALS = "一二三四五六七八九十"
_DIGIT_RE = re.compile(r"[0-9]")
_FLOOR_OR_ROOM_RE = re.compile(r"[0-9]+\s*[层室]")
_TRIM = " \t,，、;；:：#-—()（）"
OTHER_BUILDING = "其他"


def building_of(address: str) -> str:
    """The building a campus address starts with, to group deliveries: "行政2号楼1层122室" →
    "行政2号楼", "药学院 305室" → "药学院", "图书馆二楼" → "图书馆"; unknown → "其他"."""
    text = unicodedata.normalize("NFKC", address or "").strip()
    index = text.find("楼")
    if index > 0:
        head = text[:index]
        without_floor = head.rstrip(_FLOOR_NUMERALS)
        if without_floor != head:  # "图书馆二楼": a floor of the building before it
            if without_floor.strip(_TRIM):
                return without_floor.strip(_TRIM)
        elif not _FLOOR_OR_ROOM_RE.search(head):  # "行政2号楼", "逸夫楼", not "3层楼道"
            return text[: index + 1].strip(_TRIM)
    match = _DIGIT_RE.search(text)
    head = text[: match.start()] if match else text
    return head.strip(_TRIM) or OTHER_BUILDING


def stored_as(building: str) -> list[str]:
    """The values `RenewalOrder.delivery_building` holds for a building ("其他" is also "")."""
    return [building, ""] if building == OTHER_BUILDING else [building]

"""Chinese licence plates: one canonical spelling for every way a person may type a plate.

The canonical form is upper-case, half-width, without spaces or separators: ``京A12345`` (ordinary,
7 characters) or ``京AD12345`` / ``京A12345D`` (new-energy, 8 characters). This module does not import
Django so it can be used (and tested) anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from .errors import FieldError

__all__ = [
    "PROVINCES",
    "InvalidPlate",
    "is_local",
    "normalize_plate",
    "plate_search_variants",
]

#: Province (region) abbreviations that may start a civilian plate.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

#: Characters that may end an ordinary 7-character plate instead of a letter or digit.
SUFFIXES = "挂学警港澳领"

#: Letters used on plates: I and O are never issued (they look like 1 and 0).
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS

#: Separators people put inside plates ("京A·12345", "京A-12345"); removed before validation.
SEPARATORS = frozenset(".·•・‧-－—_" + "‐‑‒–―−∙⋅")

# Reason codes (``InvalidPlate.code``); each has its own message below.
EMPTY = "empty"
LENGTH = "length"
PROVINCE = "province"
LETTER_IO = "letter_io"
CHARS = "chars"
NEW_ENERGY = "new_energy"

MSG_EMPTY = "请输入车牌号。"
MSG_FORMAT = "车牌号格式无法识别，请按“京A12345”的格式输入。"
MSG_LENGTH = (
    "车牌号位数不正确（输入了 {count} 位）：普通车牌为 7 位，如“京A12345”；"
    "新能源车牌为 8 位，如“京AD12345”。请核对后重新输入。"
)
MSG_PROVINCE = "车牌号应以省份简称开头（如“京A12345”中的“京”），“{char}”不是省份简称，请核对后重新输入。"
MSG_LETTER_IO = "车牌号不能包含字母 I 或 O，请核对是否应为数字 1 或 0 后重新输入。"
MSG_CHARS = "车牌号中不能有“{char}”，车牌号只能由省份简称、字母和数字组成，请核对后重新输入。"
MSG_SECOND_LETTER = "车牌号第二位应为字母（如“京A12345”中的“A”），请核对后重新输入。"
MSG_PROVINCE_PLACE = "车牌号中只有第一个字是省份简称，“{char}”的位置不对，请核对后重新输入。"
MSG_SUFFIX_PLACE = "“{char}”只能作为 7 位车牌的最后一个字（如“京A1234学”），请核对后重新输入。"
MSG_NEW_ENERGY = (
    "新能源车牌号格式不正确：小型车如“京AD12345”（第三位为 D 或 F），"
    "大型车如“京A12345D”（最后一位为 D 或 F），请核对后重新输入。"
)

_ORDINARY_RE = re.compile(f"[{PROVINCES}][{LETTERS}][{ALNUM}]{{4}}[{ALNUM}{SUFFIXES}]")
_NEW_ENERGY_RE = re.compile(f"[{PROVINCES}][{LETTERS}](?:[DF][{ALNUM}][0-9]{{4}}|[0-9]{{5}}[DF])")
_ALPHABET = frozenset(PROVINCES + ALNUM + "IO" + SUFFIXES)
# A plate already in canonical form (what exports and most registries hold): cleaning leaves it as
# it is and every check in _validate passes, so normalize_plate can return it unchanged.
_CANONICAL_RE = re.compile(f"{_ORDINARY_RE.pattern}|{_NEW_ENERGY_RE.pattern}")


class InvalidPlate(FieldError):
    """A plate that cannot be accepted: a FieldError of the field ``plate`` (车牌号)."""

    def __init__(
        self, reason: str, *, code: str = CHARS, field: str = "plate", label: str = "车牌号"
    ) -> None:
        super().__init__(reason, field=field, label=label, code=code)


def _describe(char: str) -> str:
    """Show a character in a message; invisible or combining ones as their code point."""
    if unicodedata.category(char)[0] in "CMZ":
        return f"U+{ord(char):04X}"
    return char


def _clean(text: str) -> str:
    """NFKC, upper-case, and drop whitespace, invisible format characters and separators."""
    text = unicodedata.normalize("NFKC", text).upper()
    return "".join(
        ch for ch in text if not ch.isspace() and ch not in SEPARATORS and unicodedata.category(ch) != "Cf"
    )


def _validate(plate: str) -> None:
    """Raise InvalidPlate with the most useful reason for a cleaned plate, or return if it is valid."""
    if not plate:
        raise InvalidPlate(MSG_EMPTY, code=EMPTY)
    if plate[0] not in PROVINCES:
        raise InvalidPlate(MSG_PROVINCE.format(char=_describe(plate[0])), code=PROVINCE)
    for ch in plate:
        if ch not in _ALPHABET:
            raise InvalidPlate(MSG_CHARS.format(char=_describe(ch)), code=CHARS)
    if "I" in plate or "O" in plate:
        raise InvalidPlate(MSG_LETTER_IO, code=LETTER_IO)
    if len(plate) not in (7, 8):
        raise InvalidPlate(MSG_LENGTH.format(count=len(plate)), code=LENGTH)
    if plate[1] not in LETTERS:
        raise InvalidPlate(MSG_SECOND_LETTER, code=CHARS)
    for index, ch in enumerate(plate[1:], start=1):
        if ch in PROVINCES:
            raise InvalidPlate(MSG_PROVINCE_PLACE.format(char=ch), code=CHARS)
        if ch in SUFFIXES and (len(plate) != 7 or index != 6):
            raise InvalidPlate(MSG_SUFFIX_PLACE.format(char=ch), code=CHARS)
    if len(plate) == 8 and not _NEW_ENERGY_RE.fullmatch(plate):
        raise InvalidPlate(MSG_NEW_ENERGY, code=NEW_ENERGY)
    if not (_ORDINARY_RE.fullmatch(plate) or _NEW_ENERGY_RE.fullmatch(plate)):  # pragma: no cover
        raise InvalidPlate(MSG_FORMAT, code=CHARS)  # defensive: the checks above should catch it


def normalize_plate(raw: object) -> str:
    """Return the canonical plate (e.g. "京 a·12345" → "京A12345") or raise InvalidPlate."""
    if raw.__class__ is str and _CANONICAL_RE.fullmatch(raw):
        return raw  # already canonical (the common case): cleaning and _validate would keep it as is
    if raw is None:
        raise InvalidPlate(MSG_EMPTY, code=EMPTY)
    if not isinstance(raw, str):
        raise InvalidPlate(MSG_FORMAT, code=CHARS)
    plate = _clean(raw)
    _validate(plate)
    return plate


def plate_search_variants(raw: object) -> str | None:
    """The canonical plate to search for, or None when the input is not a valid plate."""
    try:
        return normalize_plate(raw)
    except InvalidPlate:
        return None


def is_local(plate: str, prefixes: Iterable[str]) -> bool:
    """True when the (normalised) plate starts with one of ``prefixes``, e.g. ("京",) or ("粤B",).

    Prefixes are cleaned like plates ("粤 b" matches "粤B..."); empty prefixes are ignored and a
    plate that is not valid is never local.
    """
    canonical = plate_search_variants(plate)
    if canonical is None:
        return False
    if isinstance(prefixes, str):
        prefixes = (prefixes,)
    cleaned = tuple(p for p in (_clean(prefix) for prefix in prefixes) if p)
    return canonical.startswith(cleaned)

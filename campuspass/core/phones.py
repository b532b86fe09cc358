"""Mainland China mobile numbers: one canonical 11-digit form, and masking for display.

Accepts what people and spreadsheets produce: "+86 138-1234-5678", "（138）1234 5678", the int
13812345678 or the float 13812345678.0 from Excel. This module does not import Django.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal

from .errors import FieldError

__all__ = ["InvalidPhone", "mask_phone", "normalize_phone"]

# Reason codes (``InvalidPhone.code``); each has its own message below.
EMPTY = "empty"
CHARS = "chars"
LENGTH = "length"
NOT_MOBILE = "not_mobile"

MSG_EMPTY = "请输入手机号。"
MSG_CHARS = "手机号只能包含数字，请核对后重新输入。"
MSG_LENGTH = "手机号应为 11 位数字（输入了 {count} 位），请核对后重新输入。"
MSG_NOT_MOBILE = "这不是有效的中国大陆手机号（应为以 13 至 19 开头的 11 位数字），请核对后重新输入。"

#: Characters people put between digits; removed before validation (after NFKC, so full-width too).
_SEPARATORS = frozenset("-‐‑‒–—―−()[]")
_DIGITS_RE = re.compile(r"[0-9]+")
_EXCEL_FLOAT_TEXT_RE = re.compile(r"([0-9]+)\.0+")  # "13812345678.0": a number cell read as text
_MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
_COUNTRY_PREFIXES = ("+86", "0086", "86")


class InvalidPhone(FieldError):
    """A phone number that cannot be accepted: a FieldError of the field ``mobile`` (手机号)."""

    def __init__(
        self, reason: str, *, code: str = CHARS, field: str = "mobile", label: str = "手机号"
    ) -> None:
        super().__init__(reason, field=field, label=label, code=code)


def _as_text(raw: object) -> str:
    """The input as text; integral numbers (Excel cells) become their digits."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        raise InvalidPhone(MSG_CHARS, code=CHARS)
    if isinstance(raw, int):
        if raw < 0:
            raise InvalidPhone(MSG_CHARS, code=CHARS)
        return str(raw)
    if isinstance(raw, float | Decimal):
        finite = raw.is_finite() if isinstance(raw, Decimal) else math.isfinite(raw)
        if not finite or raw < 0 or raw != int(raw):
            raise InvalidPhone(MSG_CHARS, code=CHARS)
        return str(int(raw))
    raise InvalidPhone(MSG_CHARS, code=CHARS)


def normalize_phone(raw: object) -> str:
    """Return the 11-digit mobile number (e.g. "+86 138-1234-5678" → "13812345678") or raise InvalidPhone."""
    if raw.__class__ is str and _MOBILE_RE.fullmatch(raw):
        return raw  # already canonical (the common case): the steps below would return it unchanged
    text = unicodedata.normalize("NFKC", _as_text(raw))
    text = "".join(
        ch for ch in text if not ch.isspace() and ch not in _SEPARATORS and unicodedata.category(ch) != "Cf"
    )
    if not text:
        raise InvalidPhone(MSG_EMPTY, code=EMPTY)
    if match := _EXCEL_FLOAT_TEXT_RE.fullmatch(text):
        text = match[1]
    for prefix in _COUNTRY_PREFIXES:
        rest = text[len(prefix) :]
        if text.startswith(prefix) and len(rest) == 11 and _DIGITS_RE.fullmatch(rest):
            text = rest
            break
    if text.startswith("+"):
        raise InvalidPhone(MSG_NOT_MOBILE, code=NOT_MOBILE)  # a foreign country code
    if not _DIGITS_RE.fullmatch(text):
        raise InvalidPhone(MSG_CHARS, code=CHARS)
    if len(text) != 11:
        raise InvalidPhone(MSG_LENGTH.format(count=len(text)), code=LENGTH)
    if not _MOBILE_RE.fullmatch(text):
        raise InvalidPhone(MSG_NOT_MOBILE, code=NOT_MOBILE)
    return text


def mask_phone(phone: object) -> str:
    """Mask for display: "13812345678" → "138****5678".

    A value that is not a valid number is masked so that at most its last 2 characters show
    (nothing at all when it is shorter than 6 characters); empty → "".
    """
    if phone is None or phone == "":
        return ""
    try:
        number = normalize_phone(phone)
    except InvalidPhone:
        text = "".join(str(phone).split())
        if not text:
            return ""
        return "****" + text[-2:] if len(text) >= 6 else "****"
    return f"{number[:3]}****{number[7:]}"

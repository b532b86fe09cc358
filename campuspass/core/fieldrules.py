"""Field rules shared by every door that reads input (forms, filters, the import, the services).

Numbers are parsed strictly: ASCII digits only (Python's `str.isdigit()` also accepts "²", "١٢٣"
and full-width digits, and `int()` of 5,000 digits raises), within the range the database holds.
Text loses control characters (NUL, which PostgreSQL refuses in text, escape sequences, C1
controls); `core.input_guard` refuses them at the door before any view runs."""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab, newline and carriage return; DEL; C1 controls.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_OR_NEWLINE_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
MAX_ID = 2**63 - 1


def has_control_chars(text: str, *, allow_newlines: bool = True) -> bool:
    return bool((CONTROL_RE if allow_newlines else CONTROL_OR_NEWLINE_RE).search(text))


def strip_controls(value: Any, *, allow_newlines: bool = False) -> str:
    """The text without control characters, surrounding white space removed. Never raises."""
    text = "" if value is None else str(value)
    return (CONTROL_RE if allow_newlines else CONTROL_OR_NEWLINE_RE).sub("", text).strip()


def parse_int(value: Any, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """An integer written in ASCII digits within [minimum, maximum], else None. Never raises."""
    text = "" if value is None else str(value).strip()
    if not text or len(text) > 19 or not _ASCII_DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


def parse_id(value: Any) -> int | None:
    """A database id (1 … 2⁶³−1) or None."""
    return parse_int(value, minimum=1)


def parse_year(value: Any) -> int | None:
    """A campaign year (2000 … 2100) or None."""
    return parse_int(value, minimum=2000, maximum=2100)

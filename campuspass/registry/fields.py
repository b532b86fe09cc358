"""The field rules of the registry (issue 11): ONE rule per field of a staff member, a vehicle and a
pass, used by every door that writes them — the import (one cell), the services (one keyword) and
every form (in ``clean_<field>``, through `form_field` / `form_clean`).

A rule takes what a person or a spreadsheet gives (text with stray spaces, full-width characters,
Excel's leading apostrophe, an Excel number or date cell) and returns the stored value, or raises
`FieldError` (``campuspass.core.errors``) with the field's name and ONE Chinese message: what is
wrong and what to do. Plates and phones keep their own modules in the core (`core.plates`,
`core.phones`); their `InvalidPlate` / `InvalidPhone` are FieldErrors. Cross-field rules (dates in
order; plate, colour and type that fit) are here too.

The import calls the rules once per cell, so the common case (clean ASCII text) is kept cheap.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from campuspass.core import plate_kinds
from campuspass.core.errors import FieldError
from campuspass.core.fieldrules import CONTROL_OR_NEWLINE_RE
from campuspass.core.phones import normalize_phone
from campuspass.core.plates import normalize_plate

from .models import Pass, Staff

__all__ = ["RULES", "FieldError", "Rule", "cell_text", "check_plate_kind", "check_validity"]

# Longest input a rule looks at (anything longer is refused before any work on it).
INPUT_LIMIT = 256
EXCEL_EPOCH = dt.date(1899, 12, 30)
STAFF_NO_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,31}")
YEAR_RE = re.compile(r"([0-9]{4})(?:\.0+)?(?:年度?)?")
DATE_RE = re.compile(
    r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?(?:[ T]0?0:00(?::00)?)?"
)
DATE_DIGITS_RE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u200e\u200f"))


def cell_text(value: object) -> str:
    """Any input as text: full-width folded (NFKC), control and invisible characters removed,
    surrounding space stripped; Excel numbers as their digits, Excel dates as ISO dates."""
    if value.__class__ is str:  # the common case first
        if value.isprintable() and (value.isascii() or unicodedata.is_normalized("NFKC", value)):
            # Printable: no control or invisible character (those are all unprintable); already in
            # NFKC: what the long way below would give, stripped (names and plates in Chinese).
            return value.strip()
        text = value
    elif value is None:
        return ""
    elif isinstance(value, bool):
        return "是" if value else "否"
    elif isinstance(value, int):
        return str(value)
    elif isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        return value.isoformat()
    else:
        text = str(value)
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return CONTROL_OR_NEWLINE_RE.sub("", text).strip()


class Rule:
    """One field: ``clean(value)`` returns the stored value or raises FieldError."""

    def __init__(
        self,
        name: str,
        label: str,
        convert: Callable[[Rule, str, object], Any],
        *,
        required: bool = False,
        max_length: int | None = None,
        strip_apostrophe: bool = False,
        empty: Any = "",
        choices: list[tuple[str, str]] | None = None,
    ):
        self.name, self.label, self.convert = name, label, convert
        self.required, self.max_length, self.strip_apostrophe = required, max_length, strip_apostrophe
        self.empty, self.choices = empty, choices

    def __repr__(self) -> str:
        return f"<Rule {self.name} {self.label}>"

    def error(self, message: str, code: str = "invalid") -> FieldError:
        return FieldError(message, field=self.name, label=self.label, code=code)

    def clean(self, value: object) -> Any:
        if value.__class__ in (dt.date, dt.datetime) and self.convert is _date:
            return value.date() if isinstance(value, dt.datetime) else value
        text = cell_text(value)
        if self.strip_apostrophe:
            text = text.lstrip("'")  # Excel's "store as text" marker
        if not text:
            if self.required:
                raise self.error(f"{self.label}不能为空，请填写。", "required")
            return self.empty
        if len(text) > INPUT_LIMIT:
            raise self.error(
                f"{self.label}过长（最多 {self.max_length or INPUT_LIMIT} 个字），请核对。", "too_long"
            )
        return self.convert(self, text, value)

    def is_empty(self, value: object) -> bool:
        text = cell_text(value)
        return not (text.lstrip("'") if self.strip_apostrophe else text)


# --- converters: (rule, cleaned non-empty text, the raw value) -> stored value -----------------------


def _plain(rule: Rule, text: str, raw: object) -> str:
    """Free text: inner runs of spaces become one space; at most max_length characters."""
    if "  " in text or not text.isprintable():
        text = " ".join(text.split())
    if rule.max_length is not None and len(text) > rule.max_length:
        raise rule.error(f"{rule.label}过长（最多 {rule.max_length} 个字），请缩短后重新填写。", "too_long")
    return text


def _staff_no(rule: Rule, text: str, raw: object) -> str:
    if not STAFF_NO_RE.fullmatch(text):
        raise rule.error(
            f"工号“{text[:40]}”无效：工号只能由字母、数字组成（最多 32 位），请核对后重新填写。", "staff_no"
        )
    return text


def _mobile(rule: Rule, text: str, raw: object) -> str:
    return normalize_phone(text)  # InvalidPhone is this field's FieldError


def _plate(rule: Rule, text: str, raw: object) -> str:
    return normalize_plate(text)  # InvalidPlate is this field's FieldError


def _pass_number(rule: Rule, text: str, raw: object) -> str:
    text = "".join(text.split()).upper()
    if len(text) > 32:
        raise rule.error("通行证编号过长（最多 32 位），请核对后重新填写。", "too_long")
    return text


def _year(rule: Rule, text: str, raw: object) -> int:
    match = YEAR_RE.fullmatch(text)
    if not match or not 2000 <= int(match[1]) <= 2100:
        raise rule.error(f"年度“{text[:20]}”无效，应为四位数字，如 2018，请核对后重新填写。", "year")
    return int(match[1])


def _date(rule: Rule, text: str, raw: object) -> dt.date:
    """An Excel serial number, or 2019-07-01, 2019/7/1, 2019.07.01, 2019年7月1日, 20190701."""
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 1 <= raw < 2958466:
        return EXCEL_EPOCH + dt.timedelta(days=int(raw))
    match = DATE_RE.fullmatch(text) or DATE_DIGITS_RE.fullmatch(text)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise rule.error(f"{rule.label}“{text[:20]}”无法识别，请写成 2019-07-01 的格式。", "date")


def _choice(rule: Rule, text: str, raw: object) -> str:
    key = "".join(text.split())
    for value, label in rule.choices or ():
        if key in (label, value):
            return value
    labels = "、".join(label for _, label in rule.choices or ())
    raise rule.error(f"{rule.label}“{key[:20]}”无效，应为 {labels} 之一，请核对后重新填写。", "choice")


def _plate_colour(rule: Rule, text: str, raw: object) -> str:
    try:
        return plate_kinds.parse_colour(text)
    except ValueError:
        raise rule.error(
            f"“{text[:10]}”不是有效的车牌颜色，车牌颜色应为 蓝、黄、白、黑、绿 之一，请核对后重新填写。",
            "choice",
        ) from None


def _plate_type(rule: Rule, text: str, raw: object) -> str:
    try:
        return plate_kinds.parse_type(text)
    except ValueError:
        labels = "、".join(plate_kinds.TYPE_LABELS.values())
        raise rule.error(
            f"“{text[:12]}”不是有效的号牌种类，号牌种类应为 {labels} 之一（或其 GA 36 代码），请核对后重新填写。",
            "choice",
        ) from None


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        # staff
        Rule("staff_no", "工号", _staff_no, required=True, max_length=32, strip_apostrophe=True),
        Rule("name", "姓名", _plain, required=True, max_length=64),
        Rule("department", "部门", _plain, max_length=128),
        Rule("mobile", "手机号", _mobile, required=True, max_length=32, strip_apostrophe=True),
        Rule("status", "人员状态", _choice, required=True, choices=Staff.Status.choices),
        # vehicles
        Rule("plate", "车牌号", _plate, required=True, max_length=32),
        Rule("vehicle_type", "车辆类型", _plain, max_length=32),
        Rule("brand_model", "品牌型号", _plain, max_length=64),
        Rule("color", "车身颜色", _plain, max_length=16),
        # an empty cell means "not stated" (decision 0026): None, and the caller decides
        Rule("plate_colour", "车牌颜色", _plate_colour, empty=None, choices=plate_kinds.COLOUR_CHOICES),
        Rule("plate_type", "号牌种类", _plate_type, empty=None, choices=plate_kinds.TYPE_CHOICES),
        # passes
        Rule("year", "年度", _year, required=True, max_length=8),
        Rule("number", "通行证编号", _pass_number, required=True, max_length=32, strip_apostrophe=True),
        Rule("review_status", "审核状态", _choice, required=True, choices=Pass.ReviewStatus.choices),
        Rule("valid_from", "有效期起", _date, empty=None, max_length=20),
        Rule("valid_to", "有效期止", _date, empty=None, max_length=20),
        Rule("source", "来源", _choice, required=True, choices=Pass.Source.choices),
    )
}
#: The import's columns are the rules' labels.
RULE_BY_LABEL = {rule.label: rule for rule in RULES.values()}


def clean(name: str, value: object) -> Any:
    return RULES[name].clean(value)


# --- rules across fields ---------------------------------------------------------------------------


def check_validity(valid_from: dt.date | None, valid_to: dt.date | None) -> None:
    if valid_from and valid_to and valid_from > valid_to:
        raise RULES["valid_to"].error(
            f"有效期止 {valid_to:%Y-%m-%d} 早于有效期起 {valid_from:%Y-%m-%d}，请核对后重新填写。", "dates"
        )


def check_plate_kind(plate: str, colour: str, plate_type: str) -> list[FieldError]:
    """A plate, colour and type that cannot go together (decision 0026): one FieldError per field."""
    return [
        RULES["plate_colour" if label == "车牌颜色" else "plate_type"].error(reason + "。", "plate_kind")
        for label, reason in plate_kinds.check_kind(plate, colour, plate_type)
    ]


# --- forms: the same rule in clean_<field> ------------------------------------------------------------


def form_field(name: str, **kwargs: Any):
    """A form field for the rule: text in, the rule decides (required included, so that its message
    is the rule's). The browser gets `required` and a generous maxlength as hints only."""
    from django import forms

    rule = RULES[name]
    attrs = {"maxlength": INPUT_LIMIT}
    if rule.required:
        attrs["required"] = True
    widget = kwargs.pop("widget", None) or forms.TextInput()
    widget.attrs.update(attrs)
    return forms.CharField(
        label=kwargs.pop("label", rule.label), required=False, widget=widget, strip=False, **kwargs
    )


def form_clean(name: str, *, optional: bool = False):
    """A ``clean_<field>`` method calling the rule; ``optional`` lets an empty value through as ""
    (e.g. "leave empty to keep the number on file")."""
    from django.core.exceptions import ValidationError

    rule = RULES[name]

    def clean_field(form):
        value = form.cleaned_data.get(name)
        if optional and rule.is_empty(value):
            return ""
        try:
            return rule.clean(value)
        except FieldError as exc:
            raise ValidationError(exc.message, code=exc.code) from None

    clean_field.__name__ = f"clean_{name}"
    return clean_field

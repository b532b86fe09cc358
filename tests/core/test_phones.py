"""Tests for campuspass.core.phones (pure Python, no Django)."""

from __future__ import annotations

import math
import pickle
from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from campuspass.core import phones
from campuspass.core.phones import InvalidPhone, mask_phone, normalize_phone


def reason_code(raw: object) -> str:
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    exc = info.value
    assert exc.reason and str(exc) == exc.reason
    assert isinstance(exc, ValueError)
    return exc.code


# --- examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+86 138-1234-5678",
        "138 1234 5678",
        13812345678,
        13812345678.0,
        "008613812345678",
        "8613812345678",
        "+8613812345678",
        "(+86) 138 1234 5678",
        "（138）1234－5678",
        "１３８１２３４５６７８",
        "\u3000138\u00a01234 5678\u3000",
        "13812345678.0",
        Decimal("13812345678"),
        "138\u200b12345678",
    ],
)
def test_accepted_spellings(raw):
    assert normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", "- ()"])
def test_empty(raw):
    assert reason_code(raw) == phones.EMPTY
    with pytest.raises(InvalidPhone, match="请输入手机号"):
        normalize_phone(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "138-1234-567a",
        "138.1234.5678",
        "１３８一二三四五六七八",
        "138١٢٣٤٥٦٧٨",
        1.5,
        True,
        -13812345678,
    ],
)
def test_not_digits(raw):
    assert reason_code(raw) == phones.CHARS


@pytest.mark.parametrize(
    ("raw", "count"),
    [("1381234567", 10), ("138123456789", 12), ("1", 1), (1381234567, 10), ("86138123456", 11)],
)
def test_wrong_length(raw, count):
    code = reason_code(raw)
    if count == 11:  # "86138123456": 11 digits, not a country prefix, not a mobile number
        assert code == phones.NOT_MOBILE
        return
    assert code == phones.LENGTH
    with pytest.raises(InvalidPhone, match=f"11 位.*{count} 位"):
        normalize_phone(raw)


@pytest.mark.parametrize(
    "raw", ["12812345678", "10012345678", "23812345678", "+1 415 555 1234", "+85291234567"]
)
def test_not_a_mainland_mobile_number(raw):
    assert reason_code(raw) == phones.NOT_MOBILE


@pytest.mark.parametrize(
    "raw", [float("nan"), float("inf"), Decimal("NaN"), b"13812345678", ["13812345678"], object()]
)
def test_other_types_are_rejected(raw):
    assert reason_code(raw) == phones.CHARS


def test_reasons_are_distinct():
    samples = {
        phones.EMPTY: "",
        phones.CHARS: "abc",
        phones.LENGTH: "1381234567",
        phones.NOT_MOBILE: "12812345678",
    }
    reasons = set()
    for code, raw in samples.items():
        with pytest.raises(InvalidPhone) as info:
            normalize_phone(raw)
        assert info.value.code == code
        assert info.value.reason.endswith("。")
        reasons.add(info.value.reason)
    assert len(reasons) == len(samples)


def test_invalid_phone_survives_pickling():
    exc = pickle.loads(pickle.dumps(InvalidPhone("原因。", code=phones.LENGTH)))  # noqa: S301 - our own bytes
    assert (exc.reason, exc.code, str(exc)) == ("原因。", phones.LENGTH, "原因。")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        (13812345678, "138****5678"),
        ("", ""),
        (None, ""),
        ("12345678", "****78"),
        ("123", "****"),
        ("12812345678", "****78"),
    ],
)
def test_mask_examples(value, masked):
    assert mask_phone(value) == masked


# --- properties ---------------------------------------------------------------------------------

mobiles = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@given(mobiles)
def test_valid_numbers_are_fixed_points(phone):
    assert normalize_phone(phone) == phone
    assert normalize_phone(normalize_phone(phone)) == phone
    assert normalize_phone(int(phone)) == phone
    assert normalize_phone(float(phone)) == phone


@given(
    mobiles,
    st.sampled_from(["", "+86", "0086", "86", "+86 ", "(+86)"]),
    st.integers(0, 10),
    st.integers(0, 10),
)
def test_prefixes_and_separators_are_removed(phone, prefix, cut1, cut2):
    a, b = sorted((cut1, cut2))
    typed = f"{prefix}{phone[:a]} {phone[a:b]}-{phone[b:]}"
    assert normalize_phone(typed) == phone


@given(mobiles)
def test_mask_shows_first_three_and_last_four(phone):
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:]
    assert len(masked) == 11


@given(mobiles, st.from_regex(r"[0-9]{4}", fullmatch=True))
@example("13812345678", "0000")
def test_mask_does_not_depend_on_the_middle_digits(phone, other_middle):
    """The mask carries no information about digits 4-7: change them and the mask is identical."""
    assert mask_phone(phone) == mask_phone(phone[:3] + other_middle + phone[7:])
    middle = phone[3:7]
    if middle not in phone[:3] + phone[7:]:  # e.g. 13856785678 legitimately shows "5678" at the end
        assert middle not in mask_phone(phone)


@given(st.text(max_size=20))
def test_mask_never_reveals_more_than_the_end_of_junk(text):
    masked = mask_phone(text)
    try:
        phone = normalize_phone(text)
    except InvalidPhone:
        visible = masked.removeprefix("****")
        assert masked == "" or masked.startswith("****")
        assert len(visible) <= 2
    else:
        assert masked == phone[:3] + "****" + phone[7:]


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.decimals()))
def test_arbitrary_input_is_rejected_cleanly_or_canonical(value):
    try:
        phone = normalize_phone(value)
    except InvalidPhone as exc:
        assert exc.code in {"empty", "chars", "length", "not_mobile"}
    else:
        assert len(phone) == 11 and phone.isascii() and phone.isdigit()
        assert phone[0] == "1" and phone[1] in "3456789"
        assert normalize_phone(phone) == phone
        if isinstance(value, float):
            assert math.isfinite(value)

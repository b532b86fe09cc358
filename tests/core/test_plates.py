"""Tests for campuspass.core.plates (pure Python, no Django)."""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from campuspass.core import plates
from campuspass.core.plates import (
    PROVINCES,
    InvalidPlate,
    is_local,
    normalize_plate,
    plate_search_variants,
)

# An independent oracle, written from the plate grammar rather than from the module's code.
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
ALNUM = LETTERS + DIGITS
SUFFIXES = "挂学警港澳领"
ORACLE = re.compile(
    rf"[{PROVINCES}][{LETTERS}]"
    rf"(?:[{ALNUM}]{{4}}[{ALNUM}{SUFFIXES}]"  # ordinary, 7 characters
    rf"|[DF][{ALNUM}][0-9]{{4}}"  # new-energy small car, 8 characters
    r"|[0-9]{5}[DF])"  # new-energy large car, 8 characters
)
SEPARATORS = [".", "·", "•", "・", "‧", "-", "－", "—", "_", " ", "\u3000", "\u00a0", "\t"]


def reason_code(raw: object) -> str:
    with pytest.raises(InvalidPlate) as info:
        normalize_plate(raw)
    exc = info.value
    assert exc.reason and str(exc) == exc.reason
    assert isinstance(exc, ValueError)
    return exc.code


# --- examples -----------------------------------------------------------------------------------


def test_provinces_constant():
    assert len(PROVINCES) == 31
    assert len(set(PROVINCES)) == 31
    assert "京" in PROVINCES and "琼" in PROVINCES


@pytest.mark.parametrize(
    "raw",
    [
        "京A12345",
        "京A·12345",
        "京 a12345",
        "京Ａ１２３４５",
        "京a-12345",
        "京A.12345",
        " 京A12345 ",
        "\u3000京Ａ・１２３４５\u00a0",
    ],
)
def test_every_spelling_gives_the_same_plate(raw):
    assert normalize_plate(raw) == "京A12345"


@pytest.mark.parametrize("raw", ["京A\u200b12345", "\ufeff京A12345", "京A－12345", "京A—12345", "京A_12345"])
def test_invisible_characters_and_other_separators_are_removed(raw):
    assert normalize_plate(raw) == "京A12345"


@pytest.mark.parametrize(
    "plate",
    [
        "京AD12345",
        "京AF12345",
        "京ADA1234",
        "沪AFB0123",
        "京A12345D",
        "粤B12345F",
        "京A12345",
        "粤BZ9X8Y",
        "京A1234学",
    ],
)
def test_valid_plates_are_accepted_unchanged(plate):
    assert normalize_plate(plate) == plate


@pytest.mark.parametrize("suffix", list(SUFFIXES))
def test_every_suffix_character_is_accepted_at_the_end(suffix):
    assert normalize_plate(f"粤Z1234{suffix}") == f"粤Z1234{suffix}"


@pytest.mark.parametrize(
    "raw", ["京AD1234A", "京AA12345", "京A1234DD", "京AD12A45", "京A1234D5", "京AF1A234"]
)
def test_bad_new_energy_pattern(raw):
    # 京AF1A234: GA 36-2018 requires the last four characters of a small new-energy plate to be digits.
    assert reason_code(raw) == plates.NEW_ENERGY


@pytest.mark.parametrize("raw", ["京A123I5", "京AO2345", "京I12345", "京A1234o", "京AD1234i", "京A12345ı"])
def test_i_and_o_are_rejected(raw):
    assert reason_code(raw) == plates.LETTER_IO
    assert "I 或 O" in plates.MSG_LETTER_IO


@pytest.mark.parametrize("raw", ["京A1234", "京A1234567", "京A", "京", "京A12345678901"])
def test_wrong_length(raw):
    assert reason_code(raw) == plates.LENGTH
    with pytest.raises(InvalidPlate) as info:
        normalize_plate(raw)
    assert "7 位" in info.value.reason and "8 位" in info.value.reason


@pytest.mark.parametrize("raw", ["甲A12345", "A123456", "1234567", "港A12345", "😀A12345", "a京12345"])
def test_unknown_province(raw):
    assert reason_code(raw) == plates.PROVINCE


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", "·-·", "\u200b"])
def test_empty(raw):
    assert reason_code(raw) == plates.EMPTY
    with pytest.raises(InvalidPlate, match="请输入车牌号"):
        normalize_plate(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "京A12345😀",
        "京A1234!",
        "京A12,345",
        "京A1234\u0301",
        "京112345",
        "京A12京45",
        "京A12学45",
        "京A12345学",
    ],
)
def test_invalid_characters(raw):
    assert reason_code(raw) == plates.CHARS


@pytest.mark.parametrize("raw", [12345, 1.5, b"\xe4\xba\xac", ["京A12345"], object()])
def test_non_text_is_rejected(raw):
    assert reason_code(raw) == plates.CHARS


def test_reasons_are_distinct_chinese_sentences():
    samples = {
        plates.EMPTY: "",
        plates.LENGTH: "京A1234",
        plates.PROVINCE: "甲A12345",
        plates.LETTER_IO: "京A1234O",
        plates.CHARS: "京A1234!",
        plates.NEW_ENERGY: "京AD1234A",
    }
    reasons = {}
    for code, raw in samples.items():
        with pytest.raises(InvalidPlate) as info:
            normalize_plate(raw)
        assert info.value.code == code
        assert re.search(r"[\u4e00-\u9fff]", info.value.reason)
        assert info.value.reason.endswith("。")
        reasons[code] = info.value.reason
    assert len(set(reasons.values())) == len(samples)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("京112345", "第二位应为字母"),
        ("京A12京45", "“京”的位置不对"),
        ("京A12学45", "“学”只能作为 7 位车牌的最后一个字"),
        ("京AD123学4", "“学”只能作为 7 位车牌的最后一个字"),
        ("京A12345学", "“学”只能作为 7 位车牌的最后一个字"),
        ("京A1234!", "不能有“!”"),
        (12345, "格式无法识别"),
    ],
)
def test_invalid_character_messages_say_what_is_wrong(raw, fragment):
    with pytest.raises(InvalidPlate) as info:
        normalize_plate(raw)
    assert info.value.code == plates.CHARS
    assert fragment in info.value.reason


def test_invalid_character_is_named_and_invisible_ones_by_code_point():
    with pytest.raises(InvalidPlate, match="😀"):
        normalize_plate("京A12345😀")
    with pytest.raises(InvalidPlate, match="U\\+0301"):
        normalize_plate("京A1234\u0301")


def test_invalid_plate_survives_pickling():
    exc = pickle.loads(pickle.dumps(InvalidPlate("原因。", code=plates.LENGTH)))  # noqa: S301 - our own bytes
    assert (exc.reason, exc.code, str(exc)) == ("原因。", plates.LENGTH, "原因。")


def test_plate_search_variants():
    assert plate_search_variants("京 a·12345") == "京A12345"
    assert plate_search_variants("京A1234") is None
    assert plate_search_variants(None) is None
    assert plate_search_variants(12345) is None


@pytest.mark.parametrize(
    ("plate", "prefixes", "expected"),
    [
        ("京A12345", ("京",), True),
        ("京a·12345", ("京",), True),
        ("津A12345", ("京",), False),
        ("津A12345", ("京", "津"), True),
        ("粤B12345", ["粤b"], True),
        ("粤A12345", ["粤B"], False),
        ("京A12345", "京", True),
        ("粤B12345", "粤A", False),  # a single prefix string, not an iterable of characters
        ("京A12345", (), False),
        ("京A12345", ("",), False),
        ("京A1234", ("京",), False),
    ],
)
def test_is_local(plate, prefixes, expected):
    assert is_local(plate, prefixes) is expected


def test_is_local_accepts_a_generator():
    assert is_local("京A12345", (p for p in ["沪", "京"]))


# --- properties ---------------------------------------------------------------------------------

provinces = st.sampled_from(PROVINCES)
letters = st.sampled_from(LETTERS)
alnums = st.sampled_from(ALNUM)
digits = st.sampled_from(DIGITS)
ev = st.sampled_from("DF")


def _join(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


ordinary_plates = _join(provinces, letters, alnums, alnums, alnums, alnums, st.sampled_from(ALNUM + SUFFIXES))
small_new_energy_plates = _join(provinces, letters, ev, alnums, digits, digits, digits, digits)
large_new_energy_plates = _join(provinces, letters, digits, digits, digits, digits, digits, ev)
valid_plates = st.one_of(ordinary_plates, small_new_energy_plates, large_new_energy_plates)


def _full_width(ch: str) -> str:
    return chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch


@st.composite
def mangled(draw: st.DrawFn, plate: str) -> str:
    """The plate as a person might type it: lower case, full width, separators and spaces anywhere."""
    out = [draw(st.text(st.sampled_from(SEPARATORS[-4:]), max_size=3))]
    for ch in plate:
        if draw(st.booleans()):
            ch = ch.lower()
        if draw(st.booleans()):
            ch = _full_width(ch)
        out.append(ch)
        out.append(draw(st.text(st.sampled_from(SEPARATORS), max_size=2)))
    out.append(draw(st.text(st.sampled_from(SEPARATORS[-4:]), max_size=3)))
    return "".join(out)


@given(valid_plates)
@example("京A1234学")
def test_valid_plates_are_fixed_points(plate):
    assert ORACLE.fullmatch(plate)
    assert normalize_plate(plate) == plate
    assert normalize_plate(normalize_plate(plate)) == plate
    assert plate_search_variants(plate) == plate


@given(valid_plates.flatmap(lambda p: st.tuples(st.just(p), mangled(p))))
@example(("京A12345", "京a·１２３－45"))
def test_any_spelling_normalises_back(pair):
    plate, typed = pair
    assert normalize_plate(typed) == plate
    assert normalize_plate(typed.lower()) == plate
    assert normalize_plate("".join(map(_full_width, typed))) == plate


@given(st.text())
@example("京A12345\u0130")
@example("ﬀ")
def test_arbitrary_text_is_rejected_cleanly_or_canonical(text):
    try:
        plate = normalize_plate(text)
    except InvalidPlate as exc:
        assert exc.reason and str(exc) == exc.reason
        assert exc.code in {"empty", "length", "province", "letter_io", "chars", "new_energy"}
        assert plate_search_variants(text) is None
    else:
        assert ORACLE.fullmatch(plate)
        assert normalize_plate(plate) == plate


@given(st.text(st.sampled_from(PROVINCES[:3] + ALNUM + "IO" + SUFFIXES[:3] + " ·-"), max_size=11))
def test_accepts_exactly_what_the_grammar_allows(text):
    """Near-plates: the module agrees with the independent oracle on every one."""
    cleaned = re.sub(r"[ ·-]", "", text)
    if ORACLE.fullmatch(cleaned):
        assert normalize_plate(text) == cleaned
    else:
        with pytest.raises(InvalidPlate):
            normalize_plate(text)


@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text())))
def test_non_text_never_raises_anything_else(value):
    with pytest.raises(InvalidPlate):
        normalize_plate(value)

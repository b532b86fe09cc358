"""Plate colour (车牌颜色) and plate type (号牌种类, GA 36 codes) of a Chinese plate, and what to assume
when a registry file does not say (decision 0026).

A green plate is a new-energy car and has 8 characters; every other colour has 7. Barrier gates and
parking platforms match a car by plate *and* colour, so the colour must be right before a list is
pushed. No Django import: usable anywhere.
"""

from __future__ import annotations

from campuspass.core.plates import InvalidPlate, normalize_plate

BLUE, YELLOW, WHITE, BLACK, GREEN = "blue", "yellow", "white", "black", "green"
COLOUR_CHOICES = [(BLUE, "蓝"), (YELLOW, "黄"), (WHITE, "白"), (BLACK, "黑"), (GREEN, "绿")]
COLOUR_LABELS = dict(COLOUR_CHOICES)

# GA 36 号牌种类 codes (the ones a campus sees); the code is what vendor platforms carry.
LARGE, SMALL, EMBASSY, CONSULATE, TRAILER, COACH, POLICE, HONGKONG, MACAU = (
    "01", "02", "03", "04", "15", "16", "23", "26", "27",
)  # fmt: skip
NEW_ENERGY_LARGE, NEW_ENERGY_SMALL = "51", "52"
TYPE_CHOICES = [
    (SMALL, "小型汽车"),
    (LARGE, "大型汽车"),
    (NEW_ENERGY_SMALL, "小型新能源汽车"),
    (NEW_ENERGY_LARGE, "大型新能源汽车"),
    (COACH, "教练汽车"),
    (TRAILER, "挂车"),
    (POLICE, "警用汽车"),
    (HONGKONG, "香港入出境车"),
    (MACAU, "澳门入出境车"),
    (EMBASSY, "使馆汽车"),
    (CONSULATE, "领馆汽车"),
]
TYPE_LABELS = dict(TYPE_CHOICES)
NEW_ENERGY_TYPES = frozenset({NEW_ENERGY_LARGE, NEW_ENERGY_SMALL})

# Spellings accepted in a registry file, besides the codes themselves.
COLOUR_BY_TEXT = {
    **{value: value for value, _ in COLOUR_CHOICES},
    **{label: value for value, label in COLOUR_CHOICES},
    **{label + "色": value for value, label in COLOUR_CHOICES},
    **{label + "牌": value for value, label in COLOUR_CHOICES},
    "渐变绿": GREEN,
    "黄绿": GREEN,
    "黄绿色": GREEN,
}
TYPE_BY_TEXT = {
    **{value: value for value, _ in TYPE_CHOICES},
    **{label: value for value, label in TYPE_CHOICES},
    **{value.lstrip("0"): value for value, _ in TYPE_CHOICES},
    "新能源小型车": NEW_ENERGY_SMALL,
    "新能源大型车": NEW_ENERGY_LARGE,
    "小型车": SMALL,
    "大型车": LARGE,
}


def infer_kind(plate: str) -> tuple[str, str]:
    """(colour, type) a canonical plate has when nothing else is known."""
    if len(plate) == 8:
        return GREEN, (NEW_ENERGY_SMALL if plate[2] in "DF" else NEW_ENERGY_LARGE)
    last = plate[-1:]
    return {
        "学": (YELLOW, COACH),
        "挂": (YELLOW, TRAILER),
        "警": (WHITE, POLICE),
        "港": (BLACK, HONGKONG),
        "澳": (BLACK, MACAU),
        "领": (BLACK, CONSULATE),
    }.get(last, (BLUE, SMALL))


def parse_colour(text: str) -> str:
    """A colour as people write it; raises ValueError with a Chinese reason."""
    key = "".join(str(text).split()).lower() if text is not None else ""
    if key in COLOUR_BY_TEXT:
        return COLOUR_BY_TEXT[key]
    shown = f"“{key[:10]}”" if key else "为空"
    raise ValueError(f"{shown}无效，车牌颜色应为 蓝、黄、白、黑、绿 之一")


def parse_type(text: str) -> str:
    key = "".join(str(text).split()) if text is not None else ""
    if key in TYPE_BY_TEXT:
        return TYPE_BY_TEXT[key]
    shown = f"“{key[:12]}”" if key else "为空"
    raise ValueError(f"{shown}无效，号牌种类应为 {'、'.join(TYPE_LABELS.values())} 之一（或其 GA 36 代码）")


def check_kind(plate: str, colour: str, plate_type: str) -> list[tuple[str, str]]:
    """Problems of a plate / colour / type combination as (field, reason); empty when it fits."""
    problems = []
    if colour == GREEN and len(plate) != 8:
        problems.append(
            ("车牌颜色", f"绿牌是新能源车牌，应为 8 位，而 {plate} 是 {len(plate)} 位；请核对车牌颜色")
        )
    elif colour != GREEN and len(plate) == 8:
        problems.append(
            (
                "车牌颜色",
                f"{plate} 是 8 位新能源车牌，车牌颜色应为绿色，而不是{COLOUR_LABELS.get(colour, colour)}色",
            )
        )
    if plate_type in NEW_ENERGY_TYPES and len(plate) != 8:
        problems.append(("号牌种类", f"{TYPE_LABELS[plate_type]}的车牌应为 8 位，{plate} 是 {len(plate)} 位"))
    elif plate_type not in NEW_ENERGY_TYPES and len(plate) == 8:
        problems.append(("号牌种类", f"{plate} 是 8 位新能源车牌，号牌种类应为小型或大型新能源汽车"))
    return problems


def plate_and_colour(plate: str, colour: str | None) -> tuple[str, str]:
    """For lookups from outside (gates): the canonical plate and the colour (inferred when absent).
    Raises InvalidPlate / ValueError."""
    canonical = normalize_plate(plate)
    if colour in (None, ""):
        return canonical, infer_kind(canonical)[0]
    return canonical, parse_colour(colour)


__all__ = [
    "COLOUR_CHOICES",
    "COLOUR_LABELS",
    "GREEN",
    "TYPE_CHOICES",
    "TYPE_LABELS",
    "InvalidPlate",
    "check_kind",
    "infer_kind",
    "parse_colour",
    "parse_type",
    "plate_and_colour",
]

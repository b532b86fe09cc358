"""cell_text's short cut for text that is printable and already in NFKC (names and plates in
Chinese, issue 13) gives exactly what the long way gives: NFKC, invisible characters and controls
removed, stripped."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from campuspass.core.fieldrules import CONTROL_OR_NEWLINE_RE
from campuspass.registry.fields import _INVISIBLE, cell_text


def the_long_way(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    return CONTROL_OR_NEWLINE_RE.sub("", text).strip()


SAMPLES = [
    "张三", " 张三 ", "京A12345", "京Ａ１２３４５", "ＡＢＣ", "张\u200b三", "\ufeff王五", "张\u3000三", "张\t三",
    "李\n四", "ﬁ", "e\u0301", "Å", "ｶﾀｶﾅ", "①", "王\x85五", "赵\u2028六", "'京A12345", "",
]  # fmt: skip


def test_the_short_cut_gives_what_the_long_way_gives():
    for text in SAMPLES:
        assert cell_text(text) == the_long_way(text), text


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
def test_the_same_for_any_text(text):
    assert cell_text(text) == the_long_way(text)

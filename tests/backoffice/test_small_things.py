"""Issue 14 item 12: the dashboard chart's y-axis labels sit at equal spacing with equal steps, and
the audit log names the new actions in Chinese."""

import pytest

from campuspass.backoffice.views_audit import ACTION_LABELS
from campuspass.backoffice.views_dashboard import _nice_max


@pytest.mark.parametrize("value", [0, 1, 3, 4, 5, 7, 9, 17, 33, 77, 150, 999, 4321])
def test_y_axis_ticks_are_whole_equal_steps(value):
    top = _nice_max(value)
    assert top >= max(value, 1) and top % 4 == 0
    ticks = [top * k // 4 for k in range(5)]
    steps = {b - a for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1  # before: 0, 1, 2, 3, 5


def test_the_new_actions_have_chinese_labels():
    for action in (
        "renewals.order.courier_claimed",
        "renewals.order.delivery_failed",
        "verification.sms_budget.warning",
        "verification.sms_budget.exhausted",
    ):
        assert ACTION_LABELS[action]

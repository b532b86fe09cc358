"""The order status table of product.md section 4: every allowed and every forbidden move."""

import itertools

import pytest

from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.transitions import (
    TRANSITIONS,
    TransitionNotAllowed,
    can_transition,
    check_transition,
)

S = RenewalOrder.Status

# Written out from the spec's table, independently of transitions.py.
ALLOWED = {
    (S.PENDING_PAYMENT, S.PAID),
    (S.PENDING_PAYMENT, S.CLOSED),
    (S.PAID, S.APPROVED),
    (S.PAID, S.REJECTED),
    (S.REJECTED, S.REFUNDING),
    (S.REFUNDING, S.REFUNDED),
    (S.REFUNDING, S.REFUND_FAILED),
    (S.REFUND_FAILED, S.REFUNDING),
}


def test_table_covers_every_status():
    assert set(TRANSITIONS) == set(S.values)


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_move(current, target):
    assert can_transition(current, target)
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [pair for pair in itertools.product(S.values, S.values) if pair not in ALLOWED],
)
def test_forbidden_move(current, target):
    assert not can_transition(current, target)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        check_transition(current, target)
    assert S(current).label in excinfo.value.message and "刷新" in excinfo.value.message

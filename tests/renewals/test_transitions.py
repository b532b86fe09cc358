"""The state tables of every axis: every allowed and every forbidden move, written out independently
of transitions.py (order status from product.md section 4 with the consent step explicit; refund
status from WeChat Pay's refund states; validity from the new pass's dates)."""

import itertools

import pytest

from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.transitions import (
    AXES,
    ORDER,
    ORDER_TRANSITIONS,
    REFUND,
    VALIDITY,
    TransitionNotAllowed,
    can_transition,
    check_transition,
)

S = RenewalOrder.Status
R = Refund.Status
V = RenewalOrder.Validity

ALLOWED = {
    ORDER: {
        (S.AWAITING_CONSENT, S.PENDING_PAYMENT),
        (S.AWAITING_CONSENT, S.CLOSED),
        (S.PENDING_PAYMENT, S.PAID),
        (S.PENDING_PAYMENT, S.CLOSED),
        (S.PAID, S.APPROVED),
        (S.PAID, S.REJECTED),
        (S.REJECTED, S.REFUNDING),
        (S.REFUNDING, S.REFUNDED),
        (S.REFUNDING, S.REFUND_FAILED),
        (S.REFUND_FAILED, S.REFUNDING),
        (S.REFUND_FAILED, S.REFUNDED),
    },
    REFUND: {
        (R.PENDING, R.PROCESSING),
        (R.PENDING, R.SUCCEEDED),
        (R.PENDING, R.FAILED),
        (R.PENDING, R.CLOSED),
        (R.PENDING, R.ABNORMAL),
        (R.PROCESSING, R.SUCCEEDED),
        (R.PROCESSING, R.CLOSED),
        (R.PROCESSING, R.ABNORMAL),
        (R.FAILED, R.PENDING),
        (R.FAILED, R.SUCCEEDED),
        (R.ABNORMAL, R.SUCCEEDED),
        (R.ABNORMAL, R.PAID_OUT),
    },
    VALIDITY: {
        ("", V.NOT_YET),
        ("", V.IN_USE),
        ("", V.EXPIRED),
        (V.NOT_YET, V.IN_USE),
        (V.NOT_YET, V.EXPIRED),
        (V.IN_USE, V.EXPIRED),
    },
}
VALUES = {ORDER: S.values, REFUND: R.values, VALIDITY: ["", *V.values]}
CASES = [(axis, pair) for axis in ALLOWED for pair in sorted(ALLOWED[axis])]
FORBIDDEN = [
    (axis, pair)
    for axis in ALLOWED
    for pair in itertools.product(VALUES[axis], VALUES[axis])
    if pair not in ALLOWED[axis]
]


def test_tables_cover_every_state():
    assert set(ORDER_TRANSITIONS) == set(S.values)
    assert set(REFUND.table) == set(R.values)
    assert set(VALIDITY.table) == {"", *V.values}
    assert set(AXES) == {"order", "refund", "validity"}


@pytest.mark.parametrize(("axis", "pair"), CASES, ids=lambda v: getattr(v, "name", None))
def test_allowed_move(axis, pair):
    assert can_transition(*pair, axis)
    check_transition(*pair, axis)


@pytest.mark.parametrize(("axis", "pair"), FORBIDDEN, ids=lambda v: getattr(v, "name", None))
def test_forbidden_move(axis, pair):
    current, target = pair
    assert not can_transition(current, target, axis)
    with pytest.raises(TransitionNotAllowed) as excinfo:
        check_transition(current, target, axis)
    assert axis.label(current) in excinfo.value.message and "刷新" in excinfo.value.message

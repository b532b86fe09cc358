"""The state tables of every axis: every allowed and every forbidden move, written out independently
of transitions.py (order status from product.md section 4 with the consent step explicit; refund
status from WeChat Pay's refund states; validity from the new pass's dates)."""

import itertools

import pytest

from campuspass.renewals.models import Refund, RenewalOrder
from campuspass.renewals.transitions import (
    AXES,
    FULFILMENT,
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
H = RenewalOrder.Handover

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
    # Decision 0034: where the new pass is. Approval opens it; 已领取 and 已送达 are final.
    FULFILMENT: {
        ("", H.TO_COLLECT),
        ("", H.TO_DELIVER),
        (H.TO_COLLECT, H.COLLECTED),  # 发放 at the counter
        (H.TO_COLLECT, H.TO_DELIVER),  # the staff member switches to delivery
        (H.TO_DELIVER, H.DELIVERING),  # assigned or claimed
        (H.TO_DELIVER, H.TO_COLLECT),  # the staff member switches to pickup
        (H.TO_DELIVER, H.COLLECTED),  # came to the counter before a courier took it
        (H.DELIVERING, H.DELIVERED),  # 已送达
        (H.DELIVERING, H.TO_COLLECT),  # 未送达 (or a switch to pickup): back to the counter
    },
}
VALUES = {ORDER: S.values, REFUND: R.values, VALIDITY: ["", *V.values], FULFILMENT: ["", *H.values]}
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
    assert set(FULFILMENT.table) == {"", *H.values}
    assert set(AXES) == {"order", "refund", "validity", "fulfilment"}


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

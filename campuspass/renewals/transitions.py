"""The order status table of product.md section 4 — the only place that says which move is allowed.

Services call `check_transition` before every status change; nothing else assigns `.status`.
"""

from campuspass.core.errors import CampusPassError

from .models import RenewalOrder

S = RenewalOrder.Status

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CLOSED}),
    S.CLOSED: frozenset(),
    S.PAID: frozenset({S.APPROVED, S.REJECTED}),
    S.APPROVED: frozenset(),  # handing out, delivery and expiry are recorded on the approved order
    S.REJECTED: frozenset({S.REFUNDING}),
    S.REFUNDING: frozenset({S.REFUNDED, S.REFUND_FAILED}),
    S.REFUNDED: frozenset(),
    S.REFUND_FAILED: frozenset({S.REFUNDING}),
}


class TransitionNotAllowed(CampusPassError):
    def __init__(self, current: str, target: str):
        current_label, target_label = S(current).label, S(target).label
        super().__init__(
            f"订单当前状态为“{current_label}”，不能变为“{target_label}”。请刷新页面查看订单的最新状态。",
            code="transition_not_allowed",
        )
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> None:
    """Raises TransitionNotAllowed unless the table allows current → target."""
    if not can_transition(current, target):
        raise TransitionNotAllowed(current, target)

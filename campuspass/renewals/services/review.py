"""Review ("审核") of paid orders in the back office. A reviewer claims an order for a few minutes
while looking at it, so two reviewers never decide the same order; the decision itself is the
renewal core's order_approve / order_reject (which send the staff member's SMS after commit).

The claim is checked and cleared in the same transaction as the decision, under the order's row
lock: a second reviewer who clicked at the same moment waits for the lock and then finds the order
already decided (or claimed by someone else) and is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from campuspass.core.audit import log_action
from campuspass.core.errors import CampusPassError
from campuspass.core.fieldrules import parse_id
from campuspass.core.paging import Tally, count_each

from ..models import RejectReason, RenewalOrder
from .orders import lock_order, order_approve, order_reject

S = RenewalOrder.Status
CLAIM_MINUTES = 5


class AlreadyDecided(CampusPassError):
    """The order is no longer 待审核 (someone decided it, or it was refunded/closed meanwhile)."""

    def __init__(self, order: RenewalOrder):
        super().__init__(
            f"该订单已被处理（当前状态：{order.status_label}），已为您转到下一单。", code="already_decided"
        )


class ClaimedByOther(CampusPassError):
    def __init__(self, order: RenewalOrder):
        holder = _name(order.claimed_by)
        until = timezone.localtime(order.claimed_until)
        super().__init__(
            f"该订单正由 {holder} 审核（锁定至 {until:%H:%M}），请先审核其他订单；"
            f"对方离开 {CLAIM_MINUTES} 分钟后锁定自动解除。",
            code="claimed_by_other",
        )
        self.holder = holder


def _name(user: Any) -> str:
    if user is None:
        return "其他审核员"
    full, username = user.get_full_name(), user.get_username()
    return f"{full}（{username}）" if full and full != username else username


def _claimed_by_other(order: RenewalOrder, acting_user: Any, now: dt.datetime) -> bool:
    return (
        order.claimed_by_id is not None
        and order.claimed_by_id != getattr(acting_user, "pk", None)
        and order.claimed_until is not None
        and order.claimed_until > now
    )


def _locked_for_review(order: RenewalOrder | int, acting_user: Any) -> RenewalOrder:
    """The order, row-locked, still 待审核 and not held by another reviewer."""
    locked = lock_order(order)
    if locked.status != S.PAID:
        raise AlreadyDecided(locked)
    if _claimed_by_other(locked, acting_user, timezone.now()):
        raise ClaimedByOther(locked)
    return locked


@transaction.atomic
def order_claim(*, order: RenewalOrder | int, acting_user: Any, minutes: int = CLAIM_MINUTES) -> RenewalOrder:
    """Hold a paid order for `minutes` while reviewing it (renews one's own claim; takes over an
    expired one). Raises AlreadyDecided or ClaimedByOther (both CampusPassError)."""
    locked = _locked_for_review(order, acting_user)
    now = timezone.now()
    fresh = locked.claimed_by_id != acting_user.pk or not locked.claimed_until or locked.claimed_until <= now
    previous_holder = locked.claimed_by_id if locked.claimed_by_id != acting_user.pk else None
    locked.claimed_by = acting_user
    locked.claimed_until = now + dt.timedelta(minutes=minutes)
    locked.save(update_fields=["claimed_by", "claimed_until", "updated_at"])
    if fresh:
        # Renewing one's own claim on every page view is not worth an entry; taking one is.
        log_action(
            actor=acting_user,
            action="renewals.order.claimed",
            obj=locked,
            data={"until": locked.claimed_until.isoformat(), "taken_over_from": previous_holder},
            plate=locked.plate,
            staff_no=locked.staff.staff_no,
        )
    return locked


@transaction.atomic
def order_release(*, order: RenewalOrder | int, acting_user: Any) -> None:
    """Give back one's own claim (skip, leave the order), audited; someone else's claim is left
    alone. Raises nothing."""
    pk = order.pk if isinstance(order, RenewalOrder) else order
    try:
        locked = lock_order(pk)
    except RenewalOrder.DoesNotExist:
        return
    if locked.claimed_by_id is None or locked.claimed_by_id != getattr(acting_user, "pk", None):
        return
    until = locked.claimed_until
    _clear_claim(locked)
    log_action(
        actor=acting_user,
        action="renewals.order.released",
        obj=locked,
        data={"until": until.isoformat() if until else None},
        plate=locked.plate,
        staff_no=locked.staff.staff_no,
    )


def _clear_claim(order: RenewalOrder) -> None:
    order.claimed_by = None
    order.claimed_until = None
    order.save(update_fields=["claimed_by", "claimed_until", "updated_at"])


@transaction.atomic
def review_approve(*, order: RenewalOrder | int, acting_user: Any) -> RenewalOrder:
    """ "审核通过" by the reviewer holding the claim (or when nobody holds one): approves, sends the
    SMS after commit. Raises AlreadyDecided, ClaimedByOther or TransitionNotAllowed."""
    locked = _locked_for_review(order, acting_user)
    approved = order_approve(order=locked, acting_user=acting_user)
    _clear_claim(approved)
    return approved


@transaction.atomic
def review_reject(*, order: RenewalOrder | int, acting_user: Any, reason: str) -> RenewalOrder:
    """ "审核不通过" with the reason the staff member reads in the SMS. Raises CampusPassError (no
    reason), AlreadyDecided or ClaimedByOther."""
    locked = _locked_for_review(order, acting_user)
    rejected = order_reject(order=locked, acting_user=acting_user, reason=reason)
    _clear_claim(rejected)
    return rejected


def compose_reject_reason(*, reason_ids: list[int] | list[str], note: str = "") -> str:
    """The reason as the staff member reads it: the chosen configured reasons, then the free text.
    Raises nothing (an empty result is refused by review_reject)."""
    ids = [n for n in (parse_id(i) for i in reason_ids) if n is not None]
    chosen = list(
        RejectReason.objects.filter(pk__in=ids, active=True)
        .order_by("position", "id")
        .values_list("text", flat=True)
    )
    note = " ".join((note or "").split())
    parts = [*chosen, note] if note else chosen
    return "；".join(parts)


# --- reads ----------------------------------------------------------------------------------


def review_queue() -> QuerySet[RenewalOrder]:
    """Paid orders waiting for review, oldest payment first."""
    return (
        RenewalOrder.objects.filter(status=S.PAID)
        .select_related("staff", "campaign", "claimed_by")
        .order_by("paid_at", "pk")
    )


def _available_to(acting_user: Any, now: dt.datetime) -> Q:
    return Q(claimed_by__isnull=True) | Q(claimed_by=acting_user) | Q(claimed_until__lte=now)


def review_next(*, acting_user: Any, after: RenewalOrder | None = None) -> RenewalOrder | None:
    """The oldest paid order nobody else holds. With `after` (skipping an order): the next one after
    it in the queue, wrapping round to the start, never `after` itself."""
    queue = review_queue().filter(_available_to(acting_user, timezone.now()))
    if after is None or after.paid_at is None:
        return queue.first()
    queue = queue.exclude(pk=after.pk)
    later = queue.filter(Q(paid_at__gt=after.paid_at) | Q(paid_at=after.paid_at, pk__gt=after.pk)).first()
    return later or queue.first()


# The queue's header counts up to this many ("999+"): a few thousand paid orders are counted in a
# millisecond, 60,000 were a read of every page of the orders table on each view (issue 13).
COUNT_CAP = 999


def review_counts(*, acting_user: Any, held: bool = True) -> dict[str, Tally]:
    """Waiting, held by others (`held`), and decided by this reviewer today (for the queue header),
    each counted up to COUNT_CAP, all in one statement read by indexes."""
    now = timezone.now()
    queue = RenewalOrder.objects.filter(status=S.PAID).order_by("paid_at")  # order_status_paid_idx
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    counted = {
        "waiting": queue,
        "mine_today": RenewalOrder.objects.filter(
            decided_by=acting_user, decided_at__gte=start_of_day
        ).order_by("decided_by"),
    }
    if held:
        counted["held_by_others"] = queue.filter(claimed_by__isnull=False).exclude(
            _available_to(acting_user, now)
        )
    return count_each(counted, COUNT_CAP)

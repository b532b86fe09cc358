"""The back-office dashboard's numbers for one campaign, in a fixed handful of aggregate queries
(GROUP BY in the database, never a loop over orders) so the screen stays fast with 100,000 orders.

Queries: one GROUP BY status/validity/fulfilment over the campaign's orders (counts, oldest waiting
payment, passes not handed out; validity from the new pass's own dates), one GROUP BY local day, and
the money from the ledger: one aggregate over payments, one over refunds (decision 0006).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Case, CharField, Count, Min, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import Campaign, Payment, Refund, RenewalOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")
logger = logging.getLogger(__name__)
S = RenewalOrder.Status
V = RenewalOrder.Validity


@dataclass(frozen=True)
class StatusRow:
    key: str  # a status, or "approved:<validity>" for the split of 审核通过
    label: str
    count: int


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    orders: int
    paid: int  # of the orders created that day, how many were paid
    in_window: bool


@dataclass
class CampaignDashboard:
    campaign: Campaign
    statuses: list[StatusRow] = field(default_factory=list)
    total_orders: int = 0
    days: list[DayRow] = field(default_factory=list)
    taken_fen: int = 0
    taken_wechat_fen: int = 0
    taken_counter_fen: int = 0
    unclaimed_fen: int = 0
    unclaimed_count: int = 0
    paid_orders: int = 0
    refunded_fen: int = 0
    refunded_count: int = 0
    refunds_in_progress: int = 0
    refunds_failed: int = 0
    backlog: int = 0
    oldest_waiting_paid_at: dt.datetime | None = None
    pickups_pending: int = 0
    deliveries_pending: int = 0
    computed_at: dt.datetime | None = None  # when the numbers were computed (cached_campaign_dashboard)

    @property
    def net_fen(self) -> int:
        return self.taken_fen - self.refunded_fen

    def count(self, key: str) -> int:
        return next((row.count for row in self.statuses if row.key == key), 0)


# The table's order of product.md section 4; 审核通过 is shown as the staff member sees it
# (RenewalOrder.status_label): 待领取 / 待送证 / 配送中 until the pass is in hand, then 待生效 / 使用中 / 已过期.
H = RenewalOrder.Handover
STATUS_ORDER: list[tuple[str, str]] = [
    (S.PENDING_PAYMENT, S.PENDING_PAYMENT.label),
    (S.PAID, S.PAID.label),
    (f"{S.APPROVED}:{H.TO_COLLECT}", H.TO_COLLECT.label),
    (f"{S.APPROVED}:{H.TO_DELIVER}", H.TO_DELIVER.label),
    (f"{S.APPROVED}:{H.DELIVERING}", H.DELIVERING.label),
    (f"{S.APPROVED}:{V.NOT_YET}", V.NOT_YET.label),
    (f"{S.APPROVED}:{V.IN_USE}", V.IN_USE.label),
    (f"{S.APPROVED}:{V.EXPIRED}", V.EXPIRED.label),
    (S.REJECTED, S.REJECTED.label),
    (S.REFUNDING, S.REFUNDING.label),
    (S.REFUNDED, S.REFUNDED.label),
    (S.REFUND_FAILED, S.REFUND_FAILED.label),
    (S.CLOSED, S.CLOSED.label),
]


def _status_key(status: str, validity: str, handover: str = "") -> str:
    if status == S.APPROVED:
        if handover in RenewalOrder.WAITING_HANDOVER:
            return f"{S.APPROVED}:{handover}"
        # An approved order whose validity was never computed counts as not yet valid.
        return f"{S.APPROVED}:{validity or V.NOT_YET}"
    return status


def _local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SHANGHAI).date()


def campaign_dashboard(campaign: Campaign) -> CampaignDashboard:
    """All dashboard numbers of `campaign`. Three queries whatever the number of orders."""
    board = CampaignDashboard(campaign=campaign, computed_at=timezone.now())
    orders = RenewalOrder.objects.filter(campaign=campaign)

    counts: dict[str, int] = {}
    today = timezone.localdate()
    validity_now = Case(
        When(new_pass__isnull=True, then="validity"),
        When(new_pass__valid_from__gt=today, then=Value(V.NOT_YET)),
        When(new_pass__valid_to__lt=today, then=Value(V.EXPIRED)),
        default=Value(V.IN_USE),
        output_field=CharField(),
    )
    groups = (
        orders.order_by()
        .annotate(validity_now=validity_now)
        .values("status", "validity_now", "fulfilment_status")
        .annotate(
            n=Count("pk"),
            paid_n=Count("pk", filter=Q(paid_at__isnull=False)),
            oldest_paid=Min("paid_at"),
        )
    )
    for group in groups:
        group["validity"] = group["validity_now"] or ""
        key = _status_key(group["status"], group["validity"], group["fulfilment_status"])
        counts[key] = counts.get(key, 0) + group["n"]
        board.total_orders += group["n"]
        board.paid_orders += group["paid_n"]
        if group["status"] == S.PAID:
            board.backlog += group["n"]
            oldest = group["oldest_paid"]
            if oldest and (board.oldest_waiting_paid_at is None or oldest < board.oldest_waiting_paid_at):
                board.oldest_waiting_paid_at = oldest
        elif group["status"] == S.APPROVED and group["validity"] != V.EXPIRED:
            if group["fulfilment_status"] in (H.TO_DELIVER, H.DELIVERING):
                board.deliveries_pending += group["n"]
            elif group["fulfilment_status"] == H.TO_COLLECT:
                board.pickups_pending += group["n"]
    board.statuses = [StatusRow(key, label, counts.get(key, 0)) for key, label in STATUS_ORDER]

    per_day = {
        row["day"]: (row["n"], row["paid_n"])
        for row in orders.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=SHANGHAI))
        .values("day")
        .annotate(n=Count("pk"), paid_n=Count("pk", filter=Q(paid_at__isnull=False)))
    }
    first = _local_day(campaign.window_start)
    last = _local_day(campaign.window_end - dt.timedelta(microseconds=1))
    start = min([first, *per_day])
    end = max([last, *per_day])
    day = start
    while day <= end:
        n, paid_n = per_day.get(day, (0, 0))
        board.days.append(DayRow(day, n, paid_n, first <= day <= last))
        day += dt.timedelta(days=1)

    money = Payment.objects.filter(campaign=campaign).aggregate(
        total=Sum("amount_fen"),
        wechat=Sum("amount_fen", filter=Q(method=Payment.Method.WECHAT)),
        counter=Sum("amount_fen", filter=Q(method__in=Payment.COUNTER_METHODS)),
        unclaimed=Sum("amount_fen", filter=Q(state=Payment.State.UNCLAIMED)),
        unclaimed_n=Count("pk", filter=Q(state=Payment.State.UNCLAIMED)),
    )
    board.taken_fen = money["total"] or 0
    board.taken_wechat_fen = money["wechat"] or 0
    board.taken_counter_fen = money["counter"] or 0
    board.unclaimed_fen = money["unclaimed"] or 0
    board.unclaimed_count = money["unclaimed_n"]
    done = Q(status__in=Refund.DONE_STATUSES)
    refunds = Refund.objects.filter(payment__campaign=campaign).aggregate(
        done_fen=Sum("amount_fen", filter=done),
        done_n=Count("pk", filter=done),
        open_n=Count("pk", filter=Q(status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING])),
        failed_n=Count("pk", filter=Q(status__in=[Refund.Status.FAILED, Refund.Status.ABNORMAL])),
    )
    board.refunded_fen = refunds["done_fen"] or 0
    board.refunded_count = refunds["done_n"]
    board.refunds_in_progress = refunds["open_n"]
    board.refunds_failed = refunds["failed_n"]
    return board


def _board_key(campaign_pk: int) -> str:
    return f"campuspass:dashboard:{campaign_pk}:{timezone.localdate().isoformat()}"


# A stale board is shown while the task worker computes the next one, for at most this many times
# ``DASHBOARD_CACHE_SECONDS`` (2 minutes by default); past that (no worker running, or nobody looked
# for a while) the view computes it itself. The screen says when its numbers were computed.
STALE_LIMIT = 8


def cached_campaign_dashboard(campaign: Campaign) -> CampaignDashboard:
    """``campaign_dashboard`` for the screen, without scanning the orders on a view (issue 13).

    Every change the numbers depend on (order moves, payments, refunds, passes) writes an audit
    entry in its own transaction, so the newest audit id is the data's version: one primary-key
    index read. A board computed at the same version (and the same Beijing day, which moves
    validity) is fresh for 4× ``DASHBOARD_CACHE_SECONDS`` (the id is a hint, see below); under a
    steady flow of renewals the version changes all the time and a board is fresh for
    ``DASHBOARD_CACHE_SECONDS`` (15 s). ``board.computed_at`` says when it was computed.

    A stale board is still shown at once, and the task worker is asked to compute the next one
    (``refresh_campaign_dashboard``; one request per board at a time; only with a shared cache): at 500,000 orders the
    aggregates take a second or more, which no person should wait for at every refresh. Only the
    first view of the day (or after the cache was lost, or with no worker for ``STALE_LIMIT``
    windows, or without a shared cache) computes the board itself. ``DASHBOARD_CACHE_SECONDS = 0`` turns the cache off (the
    test settings)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.db.models import Max

    from campuspass.core.models import LogEntry

    seconds = int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 15))
    if seconds <= 0:
        return campaign_dashboard(campaign)
    version = LogEntry.objects.aggregate(newest=Max("pk"))["newest"] or 0
    key = _board_key(campaign.pk)
    now = timezone.now()
    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage must not take the screen down
        cached = None
    if cached is not None:
        cached_version, board = cached
        age = (now - board.computed_at).total_seconds()
        # The newest audit id is only a hint: on PostgreSQL ids are taken at insert, not at commit, so a
        # slower transaction can commit a lower id after the board was computed. An unchanged version
        # therefore extends the board's freshness to 4× the setting (a minute by default), never more.
        if age < seconds or (cached_version == version and age < seconds * 4):
            board.campaign = campaign
            return board
        if age < seconds * STALE_LIMIT and _cache_is_shared() and _ask_for_refresh(campaign.pk, key, seconds):
            fresher = _cached_board(key)  # an immediate task backend has computed it already
            board = fresher if fresher is not None and fresher.computed_at > board.computed_at else board
            board.campaign = campaign
            return board
    return _compute_and_keep(campaign, key, version, seconds)


def _cache_is_shared() -> bool:
    """The task worker's board reaches the web processes only through a shared cache (Redis); with
    the per-process memory cache (one host without REDIS_URL) the view computes the board itself."""
    from django.conf import settings

    return "locmem" not in settings.CACHES["default"]["BACKEND"].lower()


def _cached_board(key: str) -> CampaignDashboard | None:
    from django.core.cache import cache

    try:
        cached = cache.get(key)
    except Exception:  # noqa: BLE001
        return None
    return cached[1] if cached is not None else None


def _ask_for_refresh(campaign_pk: int, key: str, seconds: int) -> bool:
    """Enqueue the board's computation unless it is already asked for (a marker in the cache for one
    window). False when it could not be asked (the view then computes it itself)."""
    from django.core.cache import cache

    from .tasks import refresh_dashboard_task

    try:
        if cache.add(f"{key}:refreshing", 1, seconds * 4):
            refresh_dashboard_task.enqueue(campaign_pk)
    except Exception:  # noqa: BLE001 - no cache or no queue: the view computes it
        logger.warning("dashboard: refresh could not be queued", exc_info=True)
        return False
    return True


def _compute_and_keep(campaign: Campaign, key: str, version: int, seconds: int) -> CampaignDashboard:
    from django.core.cache import cache

    board = campaign_dashboard(campaign)
    try:
        cache.set(key, (version, board), seconds * STALE_LIMIT)
        cache.delete(f"{key}:refreshing")
    except Exception:  # noqa: BLE001 - the board is computed; only the next view pays again
        logger.warning("dashboard: cache unavailable, board not kept")
    return board


def refresh_campaign_dashboard(campaign_pk: int) -> bool:
    """Compute one campaign's board into the cache (the task worker, asked by a view that found it
    stale). The version is read first, so a change committed meanwhile makes the next view ask again."""
    from django.conf import settings
    from django.db.models import Max

    from campuspass.core.models import LogEntry

    campaign = Campaign.objects.filter(pk=campaign_pk).first()
    if campaign is None:
        return False
    seconds = max(1, int(getattr(settings, "DASHBOARD_CACHE_SECONDS", 15)))
    version = LogEntry.objects.aggregate(newest=Max("pk"))["newest"] or 0
    _compute_and_keep(campaign, _board_key(campaign.pk), version, seconds)
    return True


def dashboard_campaigns() -> list[Campaign]:
    """The campaigns for the year selector, newest first."""
    return list(Campaign.objects.order_by("-year").only("pk", "year", "window_start", "window_end"))


def waiting_for(since: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """ "3 小时 12 分" — how long the oldest order has waited."""
    if since is None:
        return ""
    seconds = max(0, int(((now or timezone.now()) - since).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {minutes} 分"
    return f"{minutes} 分钟"

"""Background and periodic work of the renewal core. Thin: each task calls one service."""

from __future__ import annotations

from django_tasks import task

from .services.bill_days import reconcile_due_days
from .services.orders import order_update_validity
from .services.payments import check_unpaid_orders
from .services.photos import purge_id_photos
from .services.refunds import check_refunds, refund_submit


@task()
def submit_refund(refund_id: int) -> str:
    """Send one refund to the platform (after the request's transaction committed)."""
    return refund_submit(refund_id=refund_id).status


@task()
def check_unpaid_orders_task() -> dict:
    """Every minute: query unpaid orders, close those past the timeout (querying first)."""
    return check_unpaid_orders()


@task()
def check_refunds_task() -> dict:
    """Every few minutes: resend refunds that did not reach the platform; query slow ones."""
    return check_refunds()


@task()
def update_validity_task() -> int:
    """At 00:00 Beijing time (and every full hour after, catching up): 待生效 → 使用中 → 已过期 on
    the day the new pass's dates say so (decision 0034)."""
    return order_update_validity()


@task()
def reconcile_bills_task() -> dict:
    """Hourly: reconcile every day whose bill is ready (Beijing time) and not yet reconciled."""
    return reconcile_due_days()


@task()
def purge_id_photos_task() -> int:
    """Daily: delete ID photos past their retention period, and uploads no order refers to."""
    return purge_id_photos()


@task()
def refresh_dashboard_task(campaign_id: int) -> bool:
    """Asked by a dashboard view that found its board stale: compute the next one into the cache."""
    from .selectors_dashboard import refresh_campaign_dashboard

    return refresh_campaign_dashboard(campaign_id)

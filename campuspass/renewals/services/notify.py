"""The SMS the staff member gets when their order changes (product.md section 4). Messages are put
in the outbox inside the caller's transaction and sent by a task after commit."""

from __future__ import annotations

from django.utils import timezone

from campuspass.core.money import yuan
from campuspass.sms.services import sms_enqueue

from ..models import RenewalOrder


def _send(order: RenewalOrder, template: str, **params) -> None:
    sms_enqueue(phone=order.staff.mobile, template=template, params=params, related=f"order:{order.pk}")


def order_approved(order: RenewalOrder) -> None:
    # The place, the phones and the address are fixed words of the registered templates (SMS_PICKUP_PLACE,
    # SMS_CONTACT_PHONES; campuspass.sms.templates): the vendors take only short variables.
    campaign = order.campaign
    common = {"year": campaign.year, "plate": order.plate}
    if order.fulfilment == RenewalOrder.Fulfilment.DELIVERY:
        _send(order, "approved_delivery", **common)
    else:
        _send(
            order,
            "approved_pickup",
            pickup_date=f"{order.pickup_from:%Y年%-m月%-d日}",
            old_year=campaign.previous_year,
            **common,
        )


def order_rejected(order: RenewalOrder) -> None:
    """The rejection SMS says how the money comes back as `refund_route` says (online on request,
    online automatically, or at the counter with the receipt)."""
    from .refunds import order_refund_route

    campaign = order.campaign
    route = order_refund_route(order)
    # The words about the money are the registered template's (one per route, decision 0013).
    _send(
        order,
        route.sms_template if route else "rejected_offline",
        year=campaign.year,
        plate=order.plate,
        reason=order.reject_reason,  # cut to the vendors' limit by campuspass.sms.templates
    )


def payment_returned(order: RenewalOrder, amount_fen: int) -> None:
    """A late or second payment went back (the order itself is unchanged)."""
    _send(
        order,
        "refunded",
        year=order.campaign.year,
        plate=order.plate,
        amount=yuan(amount_fen),
        when=f"{timezone.localtime():%Y年%-m月%-d日}",
    )


def order_refunded(order: RenewalOrder, amount_fen: int) -> None:
    _send(
        order,
        "refunded",
        year=order.campaign.year,
        plate=order.plate,
        amount=yuan(amount_fen),
        when=f"{timezone.localtime():%Y年%-m月%-d日}",
    )

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
    campaign = order.campaign
    common = {"year": campaign.year, "plate": order.plate, "phones": campaign.contact_phones}
    if order.fulfilment == RenewalOrder.Fulfilment.DELIVERY:
        _send(order, "approved_delivery", address=order.delivery_address, **common)
    else:
        _send(
            order,
            "approved_pickup",
            pickup_date=f"{order.pickup_from:%Y年%-m月%-d日}",
            old_year=campaign.previous_year,
            place=campaign.pickup_place,
            **common,
        )


def order_rejected(order: RenewalOrder) -> None:
    """The rejection SMS says how the money comes back as `refund_route` says (online on request,
    online automatically, or at the counter with the receipt)."""
    from .refunds import order_refund_route

    campaign = order.campaign
    route = order_refund_route(order)
    _send(
        order,
        "rejected",
        year=campaign.year,
        plate=order.plate,
        reason=order.reject_reason,
        refund_how=route.staff_text if route else "如已付款，请联系保卫处。",
        phones=campaign.contact_phones,
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

"""`{% gate_badge order %}` on the staff member's order page: 已同步至校门 once the gates know."""

from django import template

from campuspass.gates.selectors import order_gate_status

register = template.Library()


@register.inclusion_tag("gates/badge.html")
def gate_badge(order):
    return {"gate_status": order_gate_status(order)}

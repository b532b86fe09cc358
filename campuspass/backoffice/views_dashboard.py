"""概览: one screen with the campaign's numbers (all roles)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from campuspass.core.fieldrules import parse_year
from campuspass.core.money import yuan
from campuspass.renewals.selectors import current_campaign
from campuspass.renewals.selectors_dashboard import (
    CampaignDashboard,
    cached_campaign_dashboard,
    dashboard_campaigns,
    waiting_for,
)
from campuspass.verification.otp import BUDGET_ALERT_SHARE, sms_budget_today

from .roles import can, role_required

CHART_WIDTH = 1180
CHART_HEIGHT = 240
CHART_PAD_LEFT = 44
CHART_PAD_BOTTOM = 28
CHART_PAD_TOP = 16


def _nice_max(value: int) -> int:
    """A round top for the y axis that four equal steps divide into whole numbers (4, 8, 20, 40,
    80, 200 …), so the five labels 0 … top sit at equal spacing with equal differences."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if value <= step * m * 4:
                return step * m * 4
        step *= 10


def bar_chart(board: CampaignDashboard) -> dict:
    """Rectangles for an inline SVG bar chart (orders per day; the paid part darker)."""
    days = board.days
    top = _nice_max(max((d.orders for d in days), default=0))
    plot_w = CHART_WIDTH - CHART_PAD_LEFT - 8
    plot_h = CHART_HEIGHT - CHART_PAD_TOP - CHART_PAD_BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = max(2.0, slot * 0.7)
    label_every = max(1, round(len(days) / 16 + 0.49))
    bars = []
    for i, d in enumerate(days):
        x = CHART_PAD_LEFT + i * slot + (slot - bar_w) / 2
        h = plot_h * d.orders / top
        ph = plot_h * d.paid / top
        base = CHART_PAD_TOP + plot_h
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar_w, 1),
                "y": round(base - h, 1),
                "h": round(h, 1),
                "py": round(base - ph, 1),
                "ph": round(ph, 1),
                "cx": round(x + bar_w / 2, 1),
                "vy": round(base - h - 4, 1),
                "label": f"{d.day.month}/{d.day.day}" if i % label_every == 0 else "",
                "title": f"{d.day:%Y-%m-%d}：下单 {d.orders}，已支付 {d.paid}",
                "n": d.orders,
                "in_window": d.in_window,
            }
        )
    ticks = [{"y": round(CHART_PAD_TOP + plot_h - plot_h * k / 4, 1), "v": top * k // 4} for k in range(5)]
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_PAD_LEFT,
        "tick_x": CHART_PAD_LEFT - 6,
        "right": CHART_WIDTH - 8,
        "label_y": CHART_HEIGHT - 8,
        "bars": bars,
        "ticks": ticks,
        "show_values": len(days) <= 31,
    }


@role_required("dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    campaigns = dashboard_campaigns()
    campaign = None
    year = parse_year(request.GET.get("year"))
    if year is not None:
        campaign = next((c for c in campaigns if c.year == year), None)
    if campaign is None:
        campaign = current_campaign()
    context = {"screen": "dashboard", "campaigns": campaigns, "campaign": campaign, "board": None}
    if campaign is not None:
        board = cached_campaign_dashboard(campaign)
        context.update(
            board=board,
            chart=bar_chart(board),
            taken=yuan(board.taken_fen),
            taken_wechat=yuan(board.taken_wechat_fen),
            taken_counter=yuan(board.taken_counter_fen),
            unclaimed=yuan(board.unclaimed_fen),
            refunded=yuan(board.refunded_fen),
            net=yuan(board.net_fen),
            waited=waiting_for(board.oldest_waiting_paid_at),
            now=timezone.now(),
            # older than the reuse window: the task worker is computing the next board
            stale_after=timezone.now() - dt.timedelta(seconds=max(1, settings.DASHBOARD_CACHE_SECONDS * 4)),
            can_review=can(request.user, "review"),
            can_counter=can(request.user, "counter"),
            can_delivery=can(request.user, "delivery"),
            can_refunds=can(request.user, "refunds"),
        )
    sent, budget = sms_budget_today()
    context.update(
        sms_sent_today=sent, sms_budget=budget, sms_budget_alert=sent >= budget * BUDGET_ALERT_SHARE
    )
    return render(request, "backoffice/dashboard/index.html", context)

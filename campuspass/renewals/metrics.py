"""The renewal week's gauges for Prometheus (issue 12): unpaid orders, refunds by state and stuck, the
SMS outbox. Registered through `settings.METRICS_COLLECTORS` by the core's /metrics view."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from campuspass.sms.models import OutboxMessage

from .models import Refund, RenewalOrder


class RenewalCollector:
    def collect(self):
        unpaid = RenewalOrder.objects.filter(
            status__in=[RenewalOrder.Status.AWAITING_CONSENT, RenewalOrder.Status.PENDING_PAYMENT]
        ).count()
        yield GaugeMetricFamily("campuspass_orders_unpaid", "Orders waiting for payment", value=unpaid)

        refunds = GaugeMetricFamily("campuspass_refunds", "Refunds by state", labels=["state"])
        counts = {}
        for state in (Refund.Status.PENDING, Refund.Status.PROCESSING, Refund.Status.FAILED):
            counts[state] = Refund.objects.filter(status=state).count()
            refunds.add_metric([state], counts[state])
        yield refunds
        stuck_before = timezone.now() - timedelta(minutes=settings.REFUND_STUCK_MINUTES)
        stuck = Refund.objects.filter(
            status__in=[Refund.Status.PENDING, Refund.Status.PROCESSING], created_at__lt=stuck_before
        ).count()
        yield GaugeMetricFamily(
            "campuspass_refunds_stuck",
            f"Refunds not finished after {settings.REFUND_STUCK_MINUTES} minutes, plus failed ones",
            value=stuck + counts[Refund.Status.FAILED],
        )
        sms = GaugeMetricFamily("campuspass_sms", "SMS outbox by state", labels=["state"])
        for state in (OutboxMessage.Status.QUEUED, OutboxMessage.Status.FAILED):
            sms.add_metric([state], OutboxMessage.objects.filter(status=state).count())
        yield sms

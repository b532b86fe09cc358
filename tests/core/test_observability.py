"""Liveness/readiness, Prometheus metrics and structured logs (decision 0020)."""

import datetime as dt
import json
import logging

import pytest
import time_machine
from django.utils import timezone

from campuspass.core import logcontext
from campuspass.core.models import PeriodicRun
from campuspass.renewals.models import Refund
from campuspass.sms.models import OutboxMessage
from tests.renewals.test_order_lifecycle import new_order

pytestmark = pytest.mark.django_db


def scheduler_ran(ago=dt.timedelta(seconds=30)):
    PeriodicRun.objects.create(job="x", due_at=timezone.now() - ago, claimed_at=timezone.now() - ago)


def test_liveness_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readiness_is_green_when_database_cache_and_scheduler_are(client):
    scheduler_ran()
    response = client.get("/health/ready/?format=json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert any("Database" in key for key in body) and any("SchedulerRecentlyRan" in key for key in body)


def test_readiness_fails_when_no_scheduler_enqueued_recently(client):
    scheduler_ran(ago=dt.timedelta(minutes=20))
    response = client.get("/health/ready/?format=json")
    assert response.status_code == 500
    failing = [key for key, value in response.json().items() if value != "OK"]
    assert failing == ["SchedulerRecentlyRan()"]


def test_readiness_fails_when_the_task_queue_lags(client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from campuspass.payments.tasks import prune_used_nonces_task

    prune_used_nonces_task.enqueue()  # nobody runs it: no worker in the test
    scheduler_ran()
    assert client.get("/health/ready/?format=json").status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        scheduler_ran()
        response = client.get("/health/ready/?format=json")
    assert response.status_code == 500
    assert [k for k, v in response.json().items() if v != "OK"] == ["TaskQueueLag()"]


def test_metrics_are_for_the_monitor_only(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_metrics_report_business_state_and_request_latency(client, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.REFUND_STUCK_MINUTES = 60
    new_order()
    new_order()
    OutboxMessage.objects.create(phone="13912345678", template="otp", text="x", status="failed")
    order = new_order()
    from campuspass.renewals.models import Payment

    payment = Payment.objects.create(
        campaign=order.campaign,
        order=order,
        method=Payment.Method.WECHAT,
        reference="4200000000000000000001",
        out_trade_no=order.out_trade_no,
        amount_fen=100,
        state=Payment.State.UNCLAIMED,
    )
    Refund.objects.create(
        payment=payment,
        order=order,
        out_refund_no="R1",
        amount_fen=100,
        status=Refund.Status.PROCESSING,
        reason="test",
        created_at=timezone.now() - dt.timedelta(hours=2),
    )
    from campuspass.payments.tasks import prune_used_nonces_task

    prune_used_nonces_task.enqueue()
    client.get("/health/live/")
    text = client.get("/metrics").content.decode()
    assert "campuspass_orders_unpaid 3.0" in text
    assert 'campuspass_refunds{state="processing"} 1.0' in text
    assert "campuspass_refunds_stuck 1.0" in text
    assert 'campuspass_sms{state="failed"} 1.0' in text
    assert "campuspass_task_queue_depth 1.0" in text
    assert (
        'campuspass_http_request_duration_seconds_count{method="GET",status="2xx",view="health-live"}' in text
    )
    assert "13912345678" not in text


def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one(client):
    generated = client.get("/health/live/")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/health/live/", HTTP_X_REQUEST_ID="nginx-abc12345")["X-Request-ID"] == "nginx-abc12345"
    forged = client.get("/health/live/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-ID"]
    assert "<" not in forged


def _format(record, fmt="json"):
    logcontext.ContextFilter().filter(record)
    logcontext.RedactFilter().filter(record)
    from django.conf import settings
    from django.utils.module_loading import import_string

    config = dict(settings.LOGGING["formatters"][fmt])
    factory = import_string(config.pop("()")) if "()" in config else logging.Formatter
    if factory is logging.Formatter:
        return logging.Formatter(config["format"]).format(record)
    return factory(config.pop("format"), **config).format(record)


def test_log_lines_carry_request_task_and_order_fields_as_json():
    with logcontext.scope(request_id="req-00000001"):
        logcontext.bind(task_id="t-1", order_no=42, out_trade_no="CP2019X")
        record = logging.LogRecord("campuspass", logging.INFO, __file__, 1, "paid %s", ("ok",), None)
        line = json.loads(_format(record))
    assert line["request_id"] == "req-00000001" and line["task_id"] == "t-1"
    assert line["order_no"] == "42" and line["out_trade_no"] == "CP2019X"
    assert line["message"] == "paid ok" and line["level"] == "INFO"


def test_phone_and_id_card_numbers_are_masked_in_log_lines():
    record = logging.LogRecord(
        "x",
        logging.WARNING,
        __file__,
        1,
        "code for %s, id %s, order %s",
        ("13912345678", "11010519491231002X", "CP20190000123456789"),
        None,
    )
    text = _format(record, "plain")
    assert "13912345678" not in text and "139****5678" in text
    assert "11010519491231002X" not in text and "110105********002X" in text
    assert "CP20190000123456789" in text  # business keys stay readable


def test_each_audited_move_logs_its_order_number_and_out_trade_no(caplog):
    caplog.set_level(logging.INFO, logger="campuspass.audit")
    with logcontext.scope():
        order = new_order()
        context = logcontext.current()
    assert context["order_no"] == str(order.pk) and context["out_trade_no"] == order.out_trade_no
    assert any(r.name == "campuspass.audit" for r in caplog.records)
    assert not any(order.staff.mobile in r.getMessage() for r in caplog.records)

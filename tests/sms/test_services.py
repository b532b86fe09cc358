from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campuspass.core.phones import InvalidPhone
from campuspass.sms import tasks
from campuspass.sms.models import OutboxMessage
from campuspass.sms.services import sms_enqueue, sms_retry_failed, sms_send
from campuspass.sms.templates import SmsTemplateError

from . import fakes

PHONE = "13812345678"
OTP = {"code": "987654", "minutes": 5}
REJECTED = {"year": 2026, "plate": "京A12345", "reason": "照片不清晰"}


@pytest.fixture(autouse=True)
def _clear_fake_calls():
    fakes.calls.clear()


@pytest.mark.django_db(transaction=True)
def test_enqueue_stores_the_rendered_text_and_sends_after_commit(sms_locmem):
    with transaction.atomic():
        message = sms_enqueue(phone="+86 138-1234-5678", template="otp", params=OTP, related="verify:1")
        assert sms_locmem == []  # nothing leaves before the commit
    message.refresh_from_db()
    assert message.phone == PHONE
    sent_text = "【保卫处】您正在办理机动车通行证，验证码 987654，5分钟内有效。如非本人操作请忽略。"
    # Stored redacted once sent: a one-time code never stays in the database in clear.
    assert message.text == sent_text.replace("987654", "******")
    assert message.params == {"code": "******", "minutes": "5"}
    assert message.status == OutboxMessage.Status.SENT
    assert message.attempts == 1
    assert message.sent_at is not None
    assert message.provider_id
    assert len(sms_locmem) == 1
    assert sms_locmem[0].phone == PHONE and sms_locmem[0].text == sent_text


@pytest.mark.django_db(transaction=True)
def test_rollback_sends_nothing_and_stores_nothing(sms_locmem):
    with pytest.raises(RuntimeError), transaction.atomic():
        sms_enqueue(phone=PHONE, template="rejected", params=REJECTED, related="order:12")
        raise RuntimeError("the caller's change failed")
    assert sms_locmem == []
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_notify_call_shape_works(sms_locmem):
    """renewals.services.notify passes ints for years and a formatted date."""
    sms_enqueue(
        phone=PHONE,
        template="approved_pickup",
        params={
            "year": 2026,
            "plate": "京A12345",
            "phones": "82802290、82805604",
            "pickup_date": "2026年3月2日",
            "old_year": 2025,
            "place": "行政2号楼1层122、123室",
        },
        related="order:7",
    )
    message = OutboxMessage.objects.get(related="order:7")
    assert message.status == OutboxMessage.Status.SENT
    assert "2025年度旧证" in sms_locmem[0].text


@pytest.mark.django_db
def test_enqueue_sends_only_via_on_commit(django_capture_on_commit_callbacks, sms_locmem):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = sms_enqueue(phone=PHONE, template="otp", params=OTP)
    assert len(callbacks) == 1 and sms_locmem == []
    callbacks[0]()
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT and len(sms_locmem) == 1


@pytest.mark.django_db
def test_an_invalid_phone_is_refused_before_anything_is_stored():
    with pytest.raises(InvalidPhone):
        sms_enqueue(phone="12345", template="otp", params=OTP)
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_bad_params_are_refused_before_anything_is_stored():
    with pytest.raises(SmsTemplateError, match="code"):
        sms_enqueue(phone=PHONE, template="otp", params={"minutes": 5})
    # The validity is a fixed word of the registered template: another value is a programming error.
    with pytest.raises(SmsTemplateError, match="minutes"):
        sms_enqueue(phone=PHONE, template="otp", params={"code": "123456", "minutes": 30})
    with pytest.raises(SmsTemplateError):
        sms_enqueue(phone=PHONE, template="welcome", params={})
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_backend_records_failed_and_does_not_raise(settings, sms_locmem):
    settings.SMS_BACKEND = "tests.sms.fakes.ExplodingBackend"
    with transaction.atomic():
        message = sms_enqueue(phone=PHONE, template="otp", params=OTP, related="verify:1")
    message.refresh_from_db()
    assert len(fakes.calls) == 1
    assert message.status == OutboxMessage.Status.FAILED
    assert message.attempts == 1
    assert message.sent_at is None
    assert message.last_error.startswith("ConnectionError: ")
    # The exception echoed the number and the code: neither is kept.
    assert PHONE not in message.last_error and "987654" not in message.last_error
    assert message.last_error == "ConnectionError: cannot deliver to +86[手机号]: [短信内容]"


@pytest.mark.django_db
def test_a_vendor_refusal_records_failed(settings):
    message = OutboxMessage.objects.create(
        phone=PHONE, template="rejected", params=fakes.VALID_PARAMS["rejected"], text="x"
    )
    settings.SMS_BACKEND = "tests.sms.fakes.RefusingBackend"
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.last_error == "isv.BUSINESS_LIMIT_CONTROL: 触发流控"
    assert message.provider_id == "req-1"


@pytest.mark.django_db
def test_a_misconfigured_backend_records_failed(settings):
    settings.SMS_BACKEND = "nonsense"
    message = OutboxMessage.objects.create(
        phone=PHONE, template="rejected", params=fakes.VALID_PARAMS["rejected"], text="x"
    )
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.last_error.startswith("ImproperlyConfigured")


@pytest.mark.django_db
def test_a_sent_message_is_not_sent_again(sms_locmem):
    message = OutboxMessage.objects.create(
        phone=PHONE, template="rejected", params=fakes.VALID_PARAMS["rejected"], text="x"
    )
    sms_send(message_id=message.pk)
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.attempts == 1 and len(sms_locmem) == 1


@pytest.mark.django_db
def test_a_missing_message_is_ignored():
    assert sms_send(message_id=999_999) is None


@pytest.mark.django_db
def test_the_task_sends(sms_locmem):
    message = OutboxMessage.objects.create(
        phone=PHONE, template="rejected", params=fakes.VALID_PARAMS["rejected"], text="x"
    )
    result = tasks.send_sms.enqueue(message_id=message.pk)
    assert result.return_value == "sent"
    assert len(sms_locmem) == 1


@pytest.mark.django_db
def test_retry_resends_failed_messages_under_three_attempts(sms_locmem):
    def make(**kwargs):
        params = fakes.VALID_PARAMS[kwargs["template"]]
        return OutboxMessage.objects.create(phone=PHONE, params=params, text="x", **kwargs)

    failed_once = make(template="rejected", status="failed", attempts=1)
    failed_thrice = make(template="rejected", status="failed", attempts=3)
    failed_otp = make(template="otp", status="failed", attempts=1)
    sent = make(template="refunded", status="sent", attempts=1)
    fresh_queued = make(template="refunded", status="queued")
    lost_queued = make(template="refunded", status="queued")
    OutboxMessage.objects.filter(pk=lost_queued.pk).update(created_at=timezone.now() - timedelta(hours=1))

    result = tasks.retry_failed_sms.enqueue()
    assert result.return_value == 2

    statuses = dict(OutboxMessage.objects.values_list("pk", "status"))
    assert statuses[failed_once.pk] == "sent"
    assert statuses[lost_queued.pk] == "sent"
    assert statuses[failed_thrice.pk] == "failed"
    assert statuses[failed_otp.pk] == "failed"  # a stale code is useless
    assert statuses[sent.pk] == "sent"
    assert statuses[fresh_queued.pk] == "queued"  # its task may still be on the way
    assert len(sms_locmem) == 2


@pytest.mark.django_db
def test_retry_stops_after_three_attempts(settings):
    settings.SMS_BACKEND = "tests.sms.fakes.ExplodingBackend"
    message = OutboxMessage.objects.create(
        phone=PHONE, template="rejected", params=fakes.VALID_PARAMS["rejected"], text="x"
    )
    sms_send(message_id=message.pk)
    assert sms_retry_failed() == 1
    assert sms_retry_failed() == 1
    assert sms_retry_failed() == 0
    message.refresh_from_db()
    assert message.attempts == 3 and message.status == "failed"


@pytest.mark.django_db(transaction=True)
def test_logs_contain_no_phone_digits_and_no_code(settings, caplog):
    caplog.set_level(logging.DEBUG)
    with transaction.atomic():
        ok = sms_enqueue(phone=PHONE, template="otp", params=OTP, related="verify:1")
    settings.SMS_BACKEND = "tests.sms.fakes.ExplodingBackend"
    with transaction.atomic():
        bad = sms_enqueue(phone=PHONE, template="otp", params=OTP, related="verify:2")
    sms_send(message_id=bad.pk)

    ours = [r for r in caplog.records if r.name.startswith("campuspass.sms")]
    assert len(ours) == 3  # sent, failed, failed again: the outcomes are logged
    everything = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert PHONE not in everything and "987654" not in everything
    assert "验证码" not in everything  # not the text either
    ours_text = "\n".join(r.getMessage() for r in ours)
    assert f"message {ok.pk} " in ours_text and f"message {bad.pk} " in ours_text
    # Not even the masked number (task ids are random letters and digits, so only our records).
    for fragment in (PHONE[:3], PHONE[3:7], PHONE[-4:]):
        assert fragment not in ours_text


@pytest.mark.django_db(transaction=True)
def test_a_one_time_code_does_not_stay_in_the_outbox(sms_locmem):
    from campuspass.sms.models import OutboxMessage
    from campuspass.sms.services import sms_enqueue

    message = sms_enqueue(phone="13812345678", template="otp", params={"code": "482913", "minutes": 5})
    assert sms_locmem and "482913" in sms_locmem[-1].text  # the person got the code
    message = OutboxMessage.objects.get(pk=message.pk)
    assert message.status == OutboxMessage.Status.SENT
    assert "482913" not in message.text and "482913" not in str(message.params)


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_during_the_vendors_call(monkeypatch, settings):
    """The vendor's HTTP call happens outside any transaction (issue 9): a slow vendor never holds
    a row lock or a database transaction."""
    from django.db import connection

    from campuspass.sms.backends import SendResult
    from campuspass.sms.backends import locmem as locmem_backend

    seen = []

    def send(self, message):
        seen.append(connection.in_atomic_block)
        return SendResult(ok=True, provider_id="X")

    monkeypatch.setattr(locmem_backend.SmsBackend, "send", send)
    settings.SMS_BACKEND = "campuspass.sms.backends.locmem.SmsBackend"
    message = sms_enqueue(phone=PHONE, template="rejected", params=REJECTED, related="order:1")
    message.refresh_from_db()
    assert seen == [False] and message.status == OutboxMessage.Status.SENT and message.attempts == 1
    assert sms_send(message_id=message.pk).attempts == 1  # sent once: never again


@pytest.mark.django_db
def test_a_one_time_code_is_never_in_clear_in_the_outbox_while_it_waits(
    sms_locmem, django_capture_on_commit_callbacks
):
    """Between the commit and the worker the queued row holds only the sealed code: neither its
    text, its params nor any column of the row contains the digits."""
    from django.db import connection

    with django_capture_on_commit_callbacks(execute=False):
        message = sms_enqueue(phone=PHONE, template="otp", params=OTP, related="verify:1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM sms_outboxmessage WHERE id = %s", [message.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "987654" not in row
    message.refresh_from_db()
    assert "验证码 ******" in message.text and message.params["code"] == "******"
    # the worker opens it for the backend only, then drops the sealed value
    sms_send(message_id=message.pk)
    assert sms_locmem[0].text.count("987654") == 1 and sms_locmem[0].params["code"] == "987654"
    message.refresh_from_db()
    assert "sealed" not in message.params and "987654" not in message.text


@pytest.mark.django_db
def test_a_sealed_code_that_cannot_be_opened_is_sent_hidden_not_in_clear(
    sms_locmem, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        message = sms_enqueue(phone=PHONE, template="otp", params=OTP)
    settings.SECRET_KEY = "another-key-after-a-rotation"
    sent = sms_send(message_id=message.pk)
    # Only the hidden placeholder is left, which no vendor takes as a code: nothing goes out in clear,
    # the attempt is recorded as failed (the staff member asks for a new code), the digits are nowhere.
    assert all("987654" not in m.text for m in sms_locmem)
    assert sent.status == OutboxMessage.Status.FAILED and "987654" not in sent.last_error

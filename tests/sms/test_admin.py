from __future__ import annotations

import pytest
from django.urls import reverse

from campuspass.core.models import LogEntry
from campuspass.sms.models import OutboxMessage

from . import fakes

PHONE = "13812345678"


@pytest.fixture
def otp_message(db):
    return OutboxMessage.objects.create(
        phone=PHONE,
        template="otp",
        params={"code": "987654", "minutes": "5"},
        text="【保卫处】您正在办理机动车通行证，验证码 987654，5分钟内有效。如非本人操作请忽略。",
        related="verify:3",
        status=OutboxMessage.Status.SENT,
        attempts=1,
    )


def test_admin_list_masks_phones(admin_client, otp_message):
    response = admin_client.get(reverse("admin:sms_outboxmessage_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "138****5678" in html
    assert PHONE not in html


def test_admin_detail_masks_phone_and_hides_the_code(admin_client, otp_message):
    response = admin_client.get(reverse("admin:sms_outboxmessage_change", args=[otp_message.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "138****5678" in html
    assert PHONE not in html
    assert "987654" not in html
    assert "验证码 ******" in html


def test_admin_is_read_only(admin_client, otp_message):
    assert admin_client.get(reverse("admin:sms_outboxmessage_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:sms_outboxmessage_change", args=[otp_message.pk]), {"phone": "13900000000"}
    )
    assert response.status_code == 403
    otp_message.refresh_from_db()
    assert otp_message.phone == PHONE


def test_admin_search_by_related(admin_client, otp_message):
    OutboxMessage.objects.create(
        phone="13900000000",
        template="rejected",
        params=fakes.VALID_PARAMS["rejected"],
        text="x",
        related="order:12",
    )
    url = reverse("admin:sms_outboxmessage_changelist")
    html = admin_client.get(url, {"q": "order:12"}).content.decode()
    assert "139****0000" in html and "138****5678" not in html


@pytest.mark.django_db(transaction=True)
def test_resend_action_sends_failed_ones_only(admin_client, admin_user, sms_locmem):
    failed = OutboxMessage.objects.create(
        phone=PHONE,
        template="rejected",
        params=fakes.VALID_PARAMS["rejected"],
        text="x",
        status="failed",
        attempts=3,
    )
    sent = OutboxMessage.objects.create(
        phone=PHONE, template="rejected", params=fakes.VALID_PARAMS["rejected"], text="y", status="sent"
    )
    response = admin_client.post(
        reverse("admin:sms_outboxmessage_changelist"),
        {"action": "resend", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.status == "sent" and failed.attempts == 4
    assert [m.text for m in sms_locmem] == ["x"]
    entry = LogEntry.objects.get(action="sms.outbox.resent")
    assert entry.actor == admin_user and entry.object_id == str(failed.pk)
    assert PHONE not in entry.object_repr
    messages = [str(m) for m in response.context["messages"]]
    assert any("1 条" in m for m in messages)

"""Crossing events reported by gates: signed, stored once per event, kept 90 days, shown per plate."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice.roles import COUNTER
from campuspass.gates import keys
from campuspass.gates.models import Crossing
from campuspass.gates.tasks import prune_gate_records_task

pytestmark = pytest.mark.django_db
PATH = "/api/gate/v1/crossings"


def post(client, device, events, *, secret=None):
    gate, key_id, real_secret = device
    body = json.dumps(events).encode()
    headers = keys.signed_headers(key_id, secret or real_secret, "POST", PATH, {}, body=body)
    return client.post(PATH, body, content_type="application/json", headers=headers)


def test_crossings_are_stored_once_and_shown(client, device, office_client):
    event = {
        "event_id": "E1",
        "plate": "京A12345",
        "direction": "in",
        "allowed": True,
        "crossed_at": timezone.now().isoformat(),
    }
    assert post(client, device, [event]).json() == {"stored": 1}
    assert post(client, device, [event]).json() == {"stored": 0}
    assert Crossing.objects.count() == 1
    office, _ = office_client(COUNTER)
    page = office.get(reverse("backoffice:gates"), {"plate": "京A12345"}).content.decode()
    assert "东门道闸" in page and "最近过车" in page


def test_the_body_is_covered_by_the_signature(client, device):
    gate, key_id, secret = device
    event = [
        {
            "event_id": "E2",
            "plate": "京A12345",
            "direction": "in",
            "allowed": True,
            "crossed_at": "2026-01-01T08:00:00+08:00",
        }
    ]
    headers = keys.signed_headers(key_id, secret, "POST", PATH, {}, body=b"[]")
    response = client.post(PATH, json.dumps(event), content_type="application/json", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "signature"


def test_bad_direction_is_answered(client, device):
    event = {
        "event_id": "E3",
        "plate": "京A12345",
        "direction": "up",
        "allowed": True,
        "crossed_at": "2026-01-01T08:00:00+08:00",
    }
    response = post(client, device, [event])
    assert response.status_code == 400 and "direction" in response.json()["message"]


def test_crossings_older_than_90_days_are_pruned(device):
    gate, *_ = device
    now = timezone.now()
    Crossing.objects.create(
        gate=gate,
        plate="京A1",
        direction="in",
        allowed=True,
        crossed_at=now - dt.timedelta(days=91),
        event_id="old",
    )
    Crossing.objects.create(
        gate=gate,
        plate="京A1",
        direction="in",
        allowed=True,
        crossed_at=now - dt.timedelta(days=89),
        event_id="new",
    )
    prune_gate_records_task.call()
    assert list(Crossing.objects.values_list("event_id", flat=True)) == ["new"]

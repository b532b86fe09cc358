"""The signed plate-check API: signing, replay, revocation, and what it answers."""

import datetime as dt
import time

import pytest

from campuspass.core.models import LogEntry
from campuspass.gates import keys, services
from campuspass.gates.models import DenyEntry, GateGroup

pytestmark = pytest.mark.django_db
PATH = "/api/gate/v1/check"


def ask(client, device, params, *, now=None, headers=None, path=PATH):
    gate, key_id, secret = device
    signed = headers or keys.signed_headers(key_id, secret, "GET", path, params, now=now)
    return client.get(path, params, headers=signed)


def test_a_valid_pass_is_allowed_with_its_end_date_and_nothing_personal(client, device, make_permit):
    permit = make_permit("京A12345")
    response = ask(client, device, {"plate": "京a·12345", "colour": "blue"})
    assert response.status_code == 200
    assert response.json() == {
        "allowed": True,
        "valid_until": permit.valid_to.isoformat(),
        "reason_code": "ok",
    }
    body = response.content.decode()
    assert permit.holder.name not in body and permit.holder.mobile not in body


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("unknown", "unknown_plate"),
        ("expired", "expired"),
        ("not_yet", "not_yet_valid"),
        ("suspended", "suspended"),
        ("denied", "denied"),
        ("other_group", "out_of_scope"),
        ("other_colour", "unknown_plate"),
        ("refused_review", "unknown_plate"),
    ],
)
def test_each_refusal_has_its_reason(client, device, make_permit, today, setup, reason):
    colour = "blue"
    if setup == "expired":
        make_permit(valid_from=today - dt.timedelta(days=400), valid_to=today - dt.timedelta(days=1))
    elif setup == "not_yet":
        make_permit(valid_from=today + dt.timedelta(days=3))
    elif setup == "suspended":
        make_permit()
        services.suspend_pass(plate="京A12345", reason="违规停车", acting_user=None)
    elif setup == "denied":
        make_permit()
        services.deny_plate(plate="京A12345", reason="多次闯杆", acting_user=None)
    elif setup == "other_group":
        permit = make_permit()
        west = GateGroup.objects.create(code="west", name="西门")
        services.set_pass_groups(permit=permit, codes=[west.code], acting_user=None)
    elif setup == "other_colour":
        make_permit()
        colour = "yellow"
    elif setup == "refused_review":
        make_permit(review="rejected")
    response = ask(client, device, {"plate": "京A12345", "colour": colour})
    assert response.status_code == 200
    assert response.json() == {"allowed": False, "valid_until": None, "reason_code": reason}


def test_colour_may_be_left_out_and_is_then_what_the_plate_implies(client, device, make_permit):
    make_permit("京AD12345", colour="green")
    assert ask(client, device, {"plate": "京AD12345"}).json()["allowed"] is True


def test_a_pass_scoped_to_the_devices_group_is_allowed(client, device, make_permit):
    permit = make_permit()
    services.set_pass_groups(permit=permit, codes=["east"], acting_user=None)
    assert ask(client, device, {"plate": "京A12345"}).json()["reason_code"] == "ok"


def test_bad_plate_and_colour_get_a_chinese_reason(client, device):
    response = ask(client, device, {"plate": "京O12345"})
    assert response.status_code == 400 and response.json()["code"] == "plate"
    assert "字母 I 或 O" in response.json()["message"]
    response = ask(client, device, {"plate": "京A12345", "colour": "purple"})
    assert response.status_code == 400 and "车牌颜色应为" in response.json()["message"]


def test_unsigned_wrongly_signed_and_unknown_key_are_refused(client, device):
    gate, key_id, secret = device
    assert client.get(PATH, {"plate": "京A12345"}).status_code == 401
    assert client.get(PATH, {"plate": "京A12345"}).json()["code"] == "missing_headers"
    wrong = keys.signed_headers(key_id, "not-the-secret", "GET", PATH, {"plate": "京A12345"})
    response = ask(client, device, {"plate": "京A12345"}, headers=wrong)
    assert (response.status_code, response.json()["code"]) == (401, "signature")
    # Signed for other parameters than those sent: the signature covers the query.
    other = keys.signed_headers(key_id, secret, "GET", PATH, {"plate": "京B99999"})
    assert ask(client, device, {"plate": "京A12345"}, headers=other).json()["code"] == "signature"
    unknown = keys.signed_headers("gk_doesnotexist", secret, "GET", PATH, {"plate": "京A12345"})
    assert ask(client, device, {"plate": "京A12345"}, headers=unknown).json()["code"] == "unknown_key"


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_outside_300_seconds_is_refused(client, device, skew):
    response = ask(client, device, {"plate": "京A12345"}, now=time.time() + skew)
    assert (response.status_code, response.json()["code"]) == (401, "timestamp")


def test_within_300_seconds_is_accepted(client, device):
    assert ask(client, device, {"plate": "京A12345"}, now=time.time() - 290).status_code == 200


def test_a_nonce_is_never_accepted_twice(client, device):
    gate, key_id, secret = device
    headers = keys.signed_headers(key_id, secret, "GET", PATH, {"plate": "京A12345"})
    assert ask(client, device, {"plate": "京A12345"}, headers=headers).status_code == 200
    again = ask(client, device, {"plate": "京A12345"}, headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "replay")


def test_a_revoked_key_stops_at_once_and_a_new_one_works(client, device):
    gate, key_id, secret = device
    assert ask(client, device, {"plate": "京A12345"}).status_code == 200
    services.revoke_key(gate=gate, reason="设备丢失", acting_user=None)
    response = ask(client, device, {"plate": "京A12345"})
    assert (response.status_code, response.json()["code"]) == (401, "key_revoked")
    new_secret = services.issue_key(gate=gate, acting_user=None)
    gate.refresh_from_db()
    assert ask(client, (gate, gate.key_id, new_secret), {"plate": "京A12345"}).status_code == 200
    assert ask(client, device, {"plate": "京A12345"}).json()["code"] == "unknown_key"  # the old id is gone
    actions = set(LogEntry.objects.values_list("action", flat=True))
    assert {"gates.key.issued", "gates.key.revoked"} <= actions


def test_the_secret_is_not_stored(device):
    gate, key_id, secret = device
    stored = " ".join(str(getattr(gate, f.attname)) for f in gate._meta.concrete_fields)
    assert secret not in stored


def test_a_request_is_a_heartbeat(client, device):
    gate, *_ = device
    assert gate.last_heartbeat_at is None
    assert ask(client, device, {}, path="/api/gate/v1/heartbeat").status_code == 200
    gate.refresh_from_db()
    assert gate.last_heartbeat_at is not None


def test_openapi_schema_documents_the_endpoints(client):
    schema = client.get("/api/gate/v1/openapi.json").json()
    assert {"/api/gate/v1/check", "/api/gate/v1/whitelist"} <= set(schema["paths"])
    assert "X-Gate-Signature" in schema["info"]["description"]
    assert client.get("/api/gate/v1/docs").status_code == 200


def test_deny_entries_are_unique_while_open(device):
    services.deny_plate(plate="京A12345", reason="闯杆", acting_user=None)
    with pytest.raises(Exception, match="已在禁止通行名单中"):
        services.deny_plate(plate="京A12345", reason="闯杆", acting_user=None)
    services.lift_deny(plate="京A12345", reason="申诉通过", acting_user=None)
    assert DenyEntry.objects.filter(lifted_at__isnull=True).count() == 0


@pytest.mark.parametrize("stamp", ["²", "١٧٠٠٠٠٠٠٠٠", "１７００"])
def test_a_timestamp_in_other_digits_is_refused_not_a_server_error(client, device, stamp):
    """str.isdigit() accepts "²" and Arabic-Indic digits, which int() then refuses: parsed strictly."""
    gate, key_id, secret = device
    headers = keys.signed_headers(key_id, secret, "GET", PATH, {"plate": "京A12345"})
    headers["X-Gate-Timestamp"] = stamp
    response = ask(client, device, {"plate": "京A12345"}, headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "timestamp")


def test_disabling_the_gate_or_moving_it_to_another_group_counts_from_the_next_request(
    client, device, make_permit
):
    """The gate row is read on every request (no cache): changes of the row apply at once."""
    gate, key_id, secret = device
    permit = make_permit()
    services.set_pass_groups(permit=permit, codes=["east"], acting_user=None)
    assert ask(client, device, {"plate": "京A12345"}).json()["reason_code"] == "ok"
    gate.group = GateGroup.objects.create(code="west", name="西门")
    gate.save()
    assert ask(client, device, {"plate": "京A12345"}).json()["reason_code"] == "out_of_scope"
    type(gate).objects.filter(pk=gate.pk).update(enabled=False)  # a bulk write sends no signal
    response = ask(client, device, {"plate": "京A12345"})
    assert (response.status_code, response.json()["code"]) == (401, "key_revoked")

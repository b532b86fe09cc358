"""The whitelist feed: full and incremental from a cursor, each entry normal / suspended / deleted."""

import datetime as dt

import pytest

from campuspass.gates import keys, services, sync

pytestmark = pytest.mark.django_db
PATH = "/api/gate/v1/whitelist"


def pull(client, device, **params):
    gate, key_id, secret = device
    params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}
    response = client.get(PATH, params, headers=keys.signed_headers(key_id, secret, "GET", PATH, params))
    assert response.status_code == 200, response.content
    return response.json()


def test_full_then_incremental(client, device, make_permit, today):
    for plate in ("京A11111", "京A22222", "京A33333"):
        make_permit(plate)
        sync.refresh_plate(plate)
    make_permit("京A44444", valid_from=today + dt.timedelta(days=5))  # not yet valid: not published
    sync.refresh_plate("京A44444")
    first = pull(client, device, full=True, limit=2)
    assert [e["plate"] for e in first["entries"]] == ["京A11111", "京A22222"] and first["has_more"]
    rest = pull(client, device, full=True, cursor=first["next_cursor"], limit=2)
    assert [e["plate"] for e in rest["entries"]] == ["京A33333"] and not rest["has_more"]
    entry = rest["entries"][0]
    assert entry["status"] == "normal" and entry["plate_colour"] == "blue" and entry["plate_type"] == "02"
    assert set(entry) == {
        "plate",
        "plate_colour",
        "plate_type",
        "status",
        "valid_from",
        "valid_to",
        "groups",
        "cursor",
    }
    cursor = rest["next_cursor"]

    assert pull(client, device, cursor=cursor)["entries"] == []  # nothing changed
    services.suspend_pass(plate="京A11111", reason="违规", acting_user=None)
    sync.refresh_plate("京A11111")
    services.deny_plate(plate="京A22222", reason="闯杆", acting_user=None)
    sync.refresh_plate("京A22222")
    from campuspass.registry.models import Pass

    Pass.objects.filter(vehicle__plate="京A33333").update(review_status="rejected")
    sync.refresh_plate("京A33333")
    changes = pull(client, device, cursor=cursor)
    assert [(e["plate"], e["status"]) for e in changes["entries"]] == [
        ("京A11111", "suspended"),
        ("京A22222", "suspended"),
        ("京A33333", "deleted"),
    ]
    # A full listing leaves deleted entries out.
    assert [e["plate"] for e in pull(client, device, full=True)["entries"]] == ["京A11111", "京A22222"]


def test_recomputing_an_unchanged_plate_publishes_nothing(client, device, make_permit):
    make_permit()
    sync.refresh_plate("京A12345")
    cursor = pull(client, device, full=True)["next_cursor"]
    sync.refresh_plate("京A12345")
    assert pull(client, device, cursor=cursor)["entries"] == []


def test_bad_paging_is_answered(client, device):
    gate, key_id, secret = device
    params = {"limit": "5000"}
    response = client.get(PATH, params, headers=keys.signed_headers(key_id, secret, "GET", PATH, params))
    assert response.status_code == 400 and "limit" in response.json()["message"]

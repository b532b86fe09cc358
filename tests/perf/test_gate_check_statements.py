"""Issue 13, the gate check (GET /api/gate/v1/check): statements per signed check, counted in-process
as the benchmark counts them (full middleware stack, autocommit as in production).

With Redis (GATE_NONCE_STORE "cache") the nonce costs no statement: a registered plate is 2 reads (the
gate row, the plate's state), an unknown one 3 (the deny list on its own). The heartbeat UPDATE comes
at most once a minute. Without Redis the nonce is one INSERT in GateNonce. On SQLite the test's
in-memory cache stands in for Redis (the same one SET NX per check)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.gates import keys, services
from campuspass.gates.models import Gate, GateGroup
from campuspass.registry.models import Pass, Staff, Vehicle

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/api/gate/v1/check"
REGISTERED, UNKNOWN = "京A12345", "京Z99999"


@pytest.fixture
def device():
    group = GateGroup.objects.create(code="east", name="东门")
    gate = Gate.objects.create(name="东门道闸", kind=Gate.Kind.PULL, group=group)
    secret = services.issue_key(gate=gate, acting_user=None)
    gate.refresh_from_db()
    staff = Staff.objects.create(staff_no="80000001", name="职工", mobile="13800000001", status="active")
    vehicle = Vehicle.objects.create(plate=REGISTERED, owner=staff)
    permit = Pass.objects.create(
        year=2026, number="T000001", vehicle=vehicle, holder=staff, review_status="approved",
        valid_from=None, valid_to=None,
    )  # fmt: skip
    services.set_pass_groups(permit=permit, codes=["east"], acting_user=None)
    return gate, secret


def check(client, device, plate):
    gate, secret = device
    headers = keys.signed_headers(gate.key_id, secret, "GET", PATH, {"plate": plate})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PATH, {"plate": plate}, headers=headers)
    sqls = [q["sql"] for q in queries.captured_queries]
    return response, [s for s in sqls if s not in ("BEGIN", "COMMIT")], sqls


@pytest.mark.parametrize(("plate", "reads"), [(REGISTERED, 2), (UNKNOWN, 3)])
def test_with_redis_a_check_is_only_reads(client, device, settings, plate, reads):
    settings.GATE_NONCE_STORE = "cache"
    first, _, sqls = check(client, device, plate)
    assert first.status_code == 200
    assert len(sqls) <= reads + 1, "\n".join(sqls)  # + the first heartbeat of the minute
    response, _, sqls = check(client, device, plate)
    assert response.status_code == 200
    assert response.json()["allowed"] is (plate == REGISTERED)
    assert len(sqls) <= reads, "\n".join(sqls)
    assert all(s.lstrip().upper().startswith("SELECT") for s in sqls), "\n".join(sqls)


def test_without_redis_the_nonce_is_one_insert(client, device, settings):
    settings.GATE_NONCE_STORE = "database"
    check(client, device, REGISTERED)  # the heartbeat of this minute
    response, statements, sqls = check(client, device, REGISTERED)
    assert response.status_code == 200
    assert len(statements) <= 3, "\n".join(sqls)
    writes = [s for s in sqls if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 1 and "gates_gatenonce" in writes[0]


def test_the_heartbeat_is_written_at_most_once_a_minute(client, device, settings):
    settings.GATE_NONCE_STORE = "cache"
    updates = []
    for _ in range(3):
        _, _, sqls = check(client, device, REGISTERED)
        updates += [s for s in sqls if s.lstrip().upper().startswith("UPDATE") and "gates_gate" in s]
    assert len(updates) == 1

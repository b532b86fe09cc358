import datetime as dt
import re

import pytest
import responses
from django.utils import timezone

from campuspass.gates import services
from campuspass.gates.models import Gate, GateGroup
from campuspass.gates.simulators.artemis import ArtemisSimulator
from campuspass.gates.simulators.dahua import DahuaSimulator
from campuspass.gates.simulators.isapi import IsapiSimulator
from campuspass.registry.models import Pass, Staff, Vehicle

ARTEMIS = "https://artemis.sim"
CAMERA = "http://camera.sim"


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def make_permit(today):
    counter = iter(range(1, 10_000))

    def make(plate="京A12345", *, valid_from=None, valid_to=None, year=None, colour=None, review="approved"):
        n = next(counter)
        staff = Staff.objects.create(
            staff_no=f"8{n:07d}", name=f"职工{n}", mobile=f"138{n:08d}", status="active"
        )
        vehicle = Vehicle.objects.filter(plate=plate).first()
        if vehicle is None:
            from campuspass.core.plate_kinds import infer_kind

            inferred = infer_kind(plate)
            vehicle = Vehicle.objects.create(
                plate=plate, owner=staff, plate_colour=colour or inferred[0], plate_type=inferred[1]
            )
        valid_from = valid_from or today - dt.timedelta(days=30)
        return Pass.objects.create(
            year=year or valid_from.year,
            number=f"T{n:06d}",
            vehicle=vehicle,
            holder=staff,
            review_status=review,
            valid_from=valid_from,
            valid_to=valid_to or today + dt.timedelta(days=300),
        )

    return make


@pytest.fixture
def device(db):
    """A gate that asks us, with a fresh key: (gate, key id, secret)."""
    group = GateGroup.objects.create(code="east", name="东门")
    gate = Gate.objects.create(name="东门道闸", kind=Gate.Kind.PULL, group=group)
    secret = services.issue_key(gate=gate, acting_user=None)
    gate.refresh_from_db()
    return gate, gate.key_id, secret


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def artemis(http, monkeypatch):
    sim = ArtemisSimulator(app_key="ak-test", app_secret="as-test", parks=("park-1",))
    monkeypatch.setenv("GATE_TEST_ARTEMIS_SECRET", "as-test")
    http.add_callback(responses.POST, re.compile(re.escape(ARTEMIS) + r"/.*"), callback=sim.handle)
    return sim


@pytest.fixture
def artemis_gate(db, artemis):
    return Gate.objects.create(
        name="南门（海康平台）",
        kind=Gate.Kind.HIK_ARTEMIS,
        base_url=ARTEMIS,
        username="ak-test",
        secret_env="GATE_TEST_ARTEMIS_SECRET",
        park_code="park-1",
    )


@pytest.fixture
def camera(http, monkeypatch):
    sim = IsapiSimulator(username="admin", password="cam-pass")
    monkeypatch.setenv("GATE_TEST_CAMERA_PASSWORD", "cam-pass")
    for method in (responses.GET, responses.PUT, responses.POST):
        http.add_callback(method, re.compile(re.escape(CAMERA) + r"/.*"), callback=sim.handle)
    return sim


@pytest.fixture
def camera_gate(db, camera):
    return Gate.objects.create(
        name="北门抓拍机",
        kind=Gate.Kind.HIK_ISAPI,
        base_url=CAMERA,
        username="admin",
        secret_env="GATE_TEST_CAMERA_PASSWORD",
        channel=1,
    )


@pytest.fixture
def dahua(http, monkeypatch):
    sim = DahuaSimulator(username="admin", password="dahua-pass")
    monkeypatch.setenv("GATE_TEST_DAHUA_PASSWORD", "dahua-pass")
    http.add_callback(responses.GET, re.compile(r"http://dahua\.sim/.*"), callback=sim.handle)
    return sim


@pytest.fixture
def dahua_gate(db, dahua):
    return Gate.objects.create(
        name="西门大华抓拍机",
        kind=Gate.Kind.DAHUA_ITC,
        base_url="http://dahua.sim",
        username="admin",
        secret_env="GATE_TEST_DAHUA_PASSWORD",
    )


from tests.backoffice.conftest import make_user, office_client  # noqa: E402, F401 - shared fixtures

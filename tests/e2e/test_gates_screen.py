"""道闸同步 in a real browser at 1280 px: a platform gate in sync, a camera with a failure and its
reason, a device that asks us, and one plate's way to each gate. The screenshot is the README's
(`UPDATE_DOCS_SCREENSHOTS=1` copies it to docs/screenshots/; otherwise it stays in test-artifacts/)."""

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
import responses
from django.utils import timezone

from campuspass.backoffice.roles import ADMIN
from campuspass.gates import services, sync
from campuspass.gates.models import Gate, GateGroup
from campuspass.gates.simulators.artemis import ArtemisSimulator
from campuspass.gates.simulators.isapi import IsapiSimulator
from tests.renewals.factories import make_pass

from .test_backoffice_flow import office_user, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_gates_screen(office, shots, live_server, monkeypatch):
    today = timezone.localdate()
    artemis = ArtemisSimulator(app_key="ak", app_secret="as", parks=("P1",))
    camera = IsapiSimulator(username="admin", password="pw")
    monkeypatch.setenv("GATE_DEMO_ARTEMIS", "as")
    monkeypatch.setenv("GATE_DEMO_CAMERA", "pw")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as http:
        http.add_passthru(live_server.url)
        http.add_callback(responses.POST, re.compile(r"https://artemis\.demo/.*"), callback=artemis.handle)
        for method in (responses.GET, responses.PUT):
            http.add_callback(method, re.compile(r"http://camera\.demo/.*"), callback=camera.handle)
        east = GateGroup.objects.create(code="east", name="东门")
        platform = Gate.objects.create(
            name="南门（海康平台）", kind="hik_artemis", base_url="https://artemis.demo", username="ak",
            secret_env="GATE_DEMO_ARTEMIS", park_code="P1",
        )  # fmt: skip
        cam = Gate.objects.create(
            name="北门抓拍机", kind="hik_isapi", base_url="http://camera.demo", username="admin",
            secret_env="GATE_DEMO_CAMERA",
        )  # fmt: skip
        device = Gate.objects.create(name="东门查询终端", kind="pull", group=east)
        services.issue_key(gate=device, acting_user=None)
        Gate.objects.filter(pk=device.pk).update(last_heartbeat_at=timezone.now() - dt.timedelta(seconds=40))
        camera.add_foreign("京C30003")  # put on the camera by hand: ours is refused, theirs kept
        for n, plate in enumerate(["京A10001", "京B20002", "京C30003"]):
            permit = make_pass(plate=plate, year=today.year)
            type(permit).objects.filter(pk=permit.pk).update(
                valid_from=today - dt.timedelta(days=20), valid_to=today + dt.timedelta(days=340 + n)
            )
            for entry in sync.refresh_plate(plate):
                sync.push_entry(entry)
        artemis.settle()
        sync.push_due(platform, now=timezone.now() + dt.timedelta(minutes=1))
        services.deny_plate(plate="京D40004", reason="多次强行闯杆", acting_user=None)
        for entry in sync.refresh_plate("京D40004"):
            sync.push_entry(entry)
        assert cam.entries.filter(state="failed").count() == 1

        office_user("gates-admin", ADMIN)
        page = office
        sign_in(page, live_server.url, "gates-admin")  # own password, then the authenticator
        page.goto(f"{live_server.url}/office/gates/?plate=京A10001")
        page.get_by_text("已到达").first.wait_for()
        assert page.get_by_text("他人录入").first.is_visible()
        shot = shots(page, "gates")("gates")
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):  # the README's picture, refreshed on request
            shutil.copy(shot, DOCS / "backoffice-gates.png")

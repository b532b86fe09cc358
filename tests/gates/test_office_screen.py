"""道闸同步 in the back office: gate states, failures and retry, a plate's way to each gate, suspend and
deny (audited), gate devices and their keys."""

import pytest
from django.urls import reverse

from campuspass.backoffice.roles import ADMIN, COUNTER
from campuspass.core.models import LogEntry
from campuspass.gates import sync
from campuspass.gates.models import DenyEntry, Gate, GateEntry, PassSuspension

pytestmark = pytest.mark.django_db


def test_overview_shows_failures_with_reasons_and_retry_requeues(
    office_client, artemis_gate, artemis, make_permit
):
    make_permit()
    artemis.parks = {"other"}
    for entry in sync.refresh_plate("京A12345"):
        sync.push_entry(entry)
    client, _ = office_client(COUNTER)
    page = client.get(reverse("backoffice:gates")).content.decode()
    assert "南门（海康平台）" in page and "停车库不存在" in page and "重试失败项" in page
    assert "暂停或恢复通行证" not in page  # the counter sees, the administrator decides
    artemis.parks = {"park-1"}
    response = client.post(reverse("backoffice:gates-retry", args=[artemis_gate.pk]), follow=True)
    assert "重新排队" in response.content.decode()
    assert LogEntry.objects.filter(action="gates.sync.retried").exists()


def test_plate_lookup_says_whether_the_pass_reached_each_gate(
    office_client, artemis_gate, artemis, make_permit
):
    make_permit()
    Gate.objects.create(name="西门查询终端", kind=Gate.Kind.PULL)
    for entry in sync.refresh_plate("京A12345"):
        sync.push_entry(entry)
    artemis.settle()
    sync.confirm(artemis_gate, now=GateEntry.objects.get().next_attempt_at)
    client, _ = office_client(COUNTER)
    page = client.get(reverse("backoffice:gates"), {"plate": "京a12345"}).content.decode()
    assert "放行：通行证有效" in page and "已到达" in page and "实时查询，无需推送" in page
    page = client.get(reverse("backoffice:gates"), {"plate": "京O"}).content.decode()
    assert "车牌号" in page and "msg-error" in page


def test_admin_suspends_and_denies_with_reasons(office_client, make_permit):
    make_permit()
    client, _ = office_client(ADMIN)
    url = reverse("backoffice:gatecontrol")
    page = client.post(
        url, {"action": "suspend", "plate": "京A12345", "reason": ""}, follow=True
    ).content.decode()
    assert "请填写原因" in page and not PassSuspension.objects.exists()
    client.post(url, {"action": "suspend", "plate": "京A12345", "reason": "违规停车"})
    assert PassSuspension.objects.filter(lifted_at__isnull=True).count() == 1
    page = client.post(
        url, {"action": "suspend", "plate": "京A12345", "reason": "再次"}, follow=True
    ).content.decode()
    assert "已处于暂停状态" in page
    client.post(url, {"action": "deny", "plate": "京B54321", "colour": "", "reason": "多次闯杆"})
    assert DenyEntry.objects.get().plate_colour == "blue"
    page = client.get(reverse("backoffice:gates")).content.decode()
    assert "违规停车" in page and "多次闯杆" in page
    actions = set(LogEntry.objects.values_list("action", flat=True))
    assert {"gates.pass.suspended", "gates.deny.added"} <= actions


def test_devices_register_and_key_shown_once(office_client):
    client, _ = office_client(ADMIN)
    url = reverse("backoffice:gatedevices")
    client.post(url, {"name": "东门终端", "kind": "pull", "channel": "1"})
    gate = Gate.objects.get(name="东门终端")
    client.post(reverse("backoffice:gatedevices-key", args=[gate.pk]))
    gate.refresh_from_db()
    first = client.get(url).content.decode()
    assert gate.key_id in first and "只显示这一次" in first
    assert "只显示这一次" not in client.get(url).content.decode()
    client.post(reverse("backoffice:gatedevices-revoke", args=[gate.pk]), {"reason": "设备报废"})
    gate.refresh_from_db()
    assert gate.key_revoked_at is not None


def test_admin_limits_a_pass_to_a_car_park(office_client, make_permit):
    make_permit()
    client, _ = office_client(ADMIN)
    client.post(reverse("backoffice:gatedevices-group"), {"code": "east", "name": "东门"})
    page = client.post(
        reverse("backoffice:gatedevices-group"), {"code": "east", "name": "again"}, follow=True
    )
    assert "未能添加" in page.content.decode()
    client.post(reverse("backoffice:gatecontrol-scope"), {"plate": "京A12345", "group": ["east"]})
    from campuspass.gates.desired import plate_state

    assert plate_state("京A12345").groups == ("east",)
    page = client.get(reverse("backoffice:gates"), {"plate": "京A12345"}).content.decode()
    assert "限 east" in page and "保存通行范围" in page
    client.post(reverse("backoffice:gatecontrol-scope"), {"plate": "京A12345"})
    assert plate_state("京A12345").groups is None
    assert LogEntry.objects.filter(action="gates.pass.scope_changed").count() == 2

"""The audit log screen: search by person, plate, order, actor, action and date; labels and changes
shown as a person reads them; administrators only; export."""

import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from campuspass.backoffice import urls_admin
from campuspass.backoffice.roles import ADMIN, COUNTER, FINANCE, REVIEWER
from campuspass.core.audit import log_action
from campuspass.core.models import LogEntry
from campuspass.registry.services import staff_update
from campuspass.renewals.services.onsite import onsite_renewal
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user):
    """Two people's histories: a counter renewal for one, a phone change for the other."""
    clerk = make_user(COUNTER, "clerk")
    campaign = make_campaign()
    a = make_pass(plate="京A11111", mobile="13900000001")
    b = make_pass(plate="冀B22222", mobile="13900000002")
    a.holder.name, b.holder.name = "张三", "李四"
    a.holder.save()
    b.holder.save()
    order = onsite_renewal(
        previous_pass=a, campaign=campaign, acting_user=clerk, method="cash", receipt_no="R1"
    )
    staff_update(staff=b.holder, acting_user=clerk, reason="更换手机号", mobile="13800000002")
    old = log_action(
        actor=None, action="registry.pass.imported", plate="京A11111", staff_no=a.holder.staff_no
    )
    LogEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    return {"clerk": clerk, "a": a, "b": b, "order": order}


def search(client, **params):
    response = client.get(reverse("backoffice:audit"), params)
    assert response.status_code == 200
    return [e.action for e in response.context["page"].object_list], response


def test_search_by_person_staff_no_or_name(office_client, world):
    client, _ = office_client(ADMIN)
    by_no, _ = search(client, person=world["b"].holder.staff_no)
    by_name, _ = search(client, person="李四")
    assert by_no == by_name == ["registry.staff.updated"]


def test_search_by_plate_any_spelling(office_client, world):
    client, _ = office_client(ADMIN)
    actions, _ = search(client, plate="京a·11111")
    assert actions == [
        "renewals.order.paid",
        "renewals.payment.recorded",
        "renewals.order.created",
        "registry.pass.imported",
    ]


def test_search_by_order_number_or_id(office_client, world):
    client, _ = office_client(ADMIN)
    order = world["order"]
    by_no, _ = search(client, order=order.out_trade_no)
    by_id, _ = search(client, order=str(order.pk))
    assert by_no == by_id == ["renewals.order.paid", "renewals.order.created"]
    none, _ = search(client, order="NOSUCHORDER")
    assert none == []


def test_search_by_actor_and_action_prefix(office_client, world):
    client, _ = office_client(ADMIN)
    by_actor, _ = search(client, actor="clerk")
    assert set(by_actor) == {
        "renewals.order.paid",
        "renewals.payment.recorded",
        "renewals.order.created",
        "registry.staff.updated",
    }
    by_action, _ = search(client, action="renewals.order.")
    assert by_action == ["renewals.order.paid", "renewals.order.created"]


def test_search_by_local_date_range(office_client, world):
    client, _ = office_client(ADMIN)
    today = timezone.localdate()
    recent, _ = search(client, date_from=today.isoformat(), date_to=today.isoformat())
    recent = [action for action in recent if not action.startswith("core.signin")]  # the test's own sign-in
    assert "registry.pass.imported" not in recent and len(recent) == 4
    older, _ = search(client, date_to=(today - dt.timedelta(days=30)).isoformat())
    assert older == ["registry.pass.imported"]
    _, response = search(client, date_from="2020-02-01", date_to="2020-01-01")
    assert response.context["form"].errors["date_to"] == ["结束日期不能早于开始日期。"]


def test_rows_show_chinese_labels_and_changes(office_client, world):
    client, _ = office_client(ADMIN)
    _, response = search(client)
    body = response.content.decode()
    assert "已支付" in body and "修改职工信息" in body
    assert "手机号：139****0002 → 138****0002" in body
    assert "状态：待支付 → 待审核" in body and "凭证号：R1" in body and "金额：150.00 元" in body
    assert "更换手机号" in body


def test_pages_of_fifty_newest_first(office_client):
    for n in range(60):
        log_action(actor=None, action=f"test.n{n:02d}")
    client, _ = office_client(ADMIN)
    first, response = search(client, action="test.")
    assert len(first) == 50 and first[0] == "test.n59"
    second, _ = search(client, action="test.", page=2)
    assert len(second) == 10 and second[-1] == "test.n00"


def test_export_follows_the_filter(office_client, world):
    client, _ = office_client(ADMIN)
    response = client.get(reverse("backoffice:audit_export"), {"person": "李四"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("时间", "操作人", "操作")
    assert [r[3] for r in rows[1:]] == ["registry.staff.updated"]


def test_every_audit_view_is_role_checked():
    for pattern in urls_admin.urlpatterns:
        if pattern.name.startswith("audit"):
            assert pattern.callback.screen == "audit", pattern.name


@pytest.mark.parametrize("role", [REVIEWER, COUNTER, FINANCE])
def test_audit_log_is_for_administrators_only(office_client, role):
    client, _ = office_client(role)
    assert client.get(reverse("backoffice:audit")).status_code == 403
    assert client.get(reverse("backoffice:audit_export")).status_code == 403


def test_signed_out_goes_to_sign_in(client):
    response = client.get(reverse("backoffice:audit"))
    assert response.status_code == 302 and reverse("backoffice:login") in response["Location"]

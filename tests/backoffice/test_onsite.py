"""The on-site desk ("现场办理"): registry changes with a reason, renewals and new passes paid at the
counter with a receipt number, and the screens around them."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice import urls_admin
from campuspass.backoffice.roles import ADMIN, COUNTER, REVIEWER
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.registry.models import Pass, Staff, Vehicle
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.onsite import (
    onsite_pass_issue,
    onsite_refund_note,
    onsite_renewal,
    order_create_onsite,
    order_mark_paid_onsite,
)
from campuspass.renewals.services.orders import order_create, order_reject
from campuspass.renewals.services.refunds import refund_request
from campuspass.renewals.transitions import TransitionNotAllowed
from tests.photos import photo_for
from tests.renewals.factories import make_campaign, make_pass

S = RenewalOrder.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(make_user):
    return make_user(COUNTER, "clerk")


# --- services ---------------------------------------------------------------------------------------


def test_counter_renewal_is_paid_with_its_receipt(clerk):
    campaign = make_campaign()
    previous = make_pass()
    order = order_create_onsite(previous_pass=previous, campaign=campaign, acting_user=clerk)
    assert order.status == S.PENDING_PAYMENT
    assert order.id_photo is None  # the clerk sees the card itself
    created = LogEntry.objects.get(action="renewals.order.created", object_id=str(order.pk))
    assert created.data["channel"] == "onsite"
    assert created.actor == clerk

    order = order_mark_paid_onsite(order=order, acting_user=clerk, method="cash", receipt_no=" SJ-2019-0001 ")
    order.refresh_from_db()
    assert order.status == S.PAID
    assert order.paid_amount_fen == order.amount_fen == campaign.price_fen
    assert order.payment_method == "cash"
    assert order.payment_receipt_no == "SJ-2019-0001"
    assert order.transaction_id is None
    assert order.paid_at is not None
    paid = LogEntry.objects.get(action="renewals.order.paid", object_id=str(order.pk))
    assert paid.data["source"] == "counter"
    assert paid.data["reference"] == "SJ-2019-0001" and paid.data["method"] == "cash"
    assert paid.actor_label == "clerk"


def test_counter_payment_needs_a_receipt_and_a_method(clerk):
    order = order_create_onsite(previous_pass=make_pass(), campaign=make_campaign(), acting_user=clerk)
    with pytest.raises(CampusPassError) as exc:
        order_mark_paid_onsite(order=order, acting_user=clerk, method="cash", receipt_no="  ")
    assert exc.value.code == "receipt_required"
    with pytest.raises(CampusPassError) as exc:
        order_mark_paid_onsite(order=order, acting_user=clerk, method="cash", receipt_no="X" * 65)
    assert exc.value.code == "receipt_too_long"
    with pytest.raises(CampusPassError) as exc:
        order_mark_paid_onsite(order=order, acting_user=clerk, method="wechat", receipt_no="R1")
    assert exc.value.code == "method"
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


def test_a_receipt_number_is_used_once(clerk):
    campaign = make_campaign()
    onsite_renewal(
        previous_pass=make_pass(), campaign=campaign, acting_user=clerk, method="card", receipt_no="R7"
    )
    with pytest.raises(CampusPassError) as exc:
        onsite_renewal(
            previous_pass=make_pass(), campaign=campaign, acting_user=clerk, method="cash", receipt_no="R7"
        )
    assert exc.value.code == "receipt_used"
    assert RenewalOrder.objects.count() == 1  # nothing half-written


def test_paying_a_paid_order_again_at_the_counter_is_refused(clerk):
    order = onsite_renewal(
        previous_pass=make_pass(), campaign=make_campaign(), acting_user=clerk, method="cash", receipt_no="R1"
    )
    with pytest.raises(TransitionNotAllowed):
        order_mark_paid_onsite(order=order, acting_user=clerk, method="cash", receipt_no="R2")


def test_out_of_province_plate_may_renew_at_the_counter(clerk):
    campaign = make_campaign()
    previous = make_pass(plate="冀B12345")
    with pytest.raises(CampusPassError) as exc:
        order_create(plate="冀B12345", campaign=campaign, id_photo=photo_for("冀B12345"))
    assert exc.value.code == "not_local_plate"
    order = onsite_renewal(
        previous_pass=previous, campaign=campaign, acting_user=clerk, method="cash", receipt_no="R1"
    )
    assert order.status == S.PAID
    assert order.plate == "冀B12345"


def test_counter_renewal_works_outside_the_window(clerk):
    now = timezone.now()
    campaign = make_campaign(window_start=now - dt.timedelta(days=30), window_end=now - dt.timedelta(days=20))
    order = onsite_renewal(
        previous_pass=make_pass(), campaign=campaign, acting_user=clerk, method="card", receipt_no="R1"
    )
    assert order.status == S.PAID


@pytest.mark.parametrize("status", [Staff.Status.RETIRED, Staff.Status.LEFT])
def test_staff_not_in_service_is_refused_at_the_counter(clerk, status):
    previous = make_pass(status=status)
    with pytest.raises(CampusPassError) as exc:
        order_create_onsite(previous_pass=previous, campaign=make_campaign(), acting_user=clerk)
    assert exc.value.code == "not_in_service"
    assert "在职" in exc.value.message
    assert not RenewalOrder.objects.exists()


def test_only_an_approved_pass_of_the_previous_year_renews(clerk):
    campaign = make_campaign()
    with pytest.raises(CampusPassError) as exc:
        order_create_onsite(previous_pass=make_pass(year=2017), campaign=campaign, acting_user=clerk)
    assert exc.value.code == "wrong_year"
    with pytest.raises(CampusPassError) as exc:
        order_create_onsite(
            previous_pass=make_pass(review=Pass.ReviewStatus.REJECTED), campaign=campaign, acting_user=clerk
        )
    assert exc.value.code == "previous_not_approved"


def test_one_open_order_per_pass_holds_against_the_online_flow(clerk):
    campaign = make_campaign()
    previous = make_pass()
    online = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    with pytest.raises(CampusPassError) as exc:
        order_create_onsite(previous_pass=previous, campaign=campaign, acting_user=clerk)
    assert exc.value.code == "order_exists"
    assert online.out_trade_no in exc.value.message
    assert RenewalOrder.objects.count() == 1


def test_online_submit_after_a_counter_renewal_creates_no_second_order(clerk):
    campaign = make_campaign()
    previous = make_pass()
    onsite_renewal(
        previous_pass=previous, campaign=campaign, acting_user=clerk, method="cash", receipt_no="R1"
    )
    with pytest.raises(CampusPassError) as exc:
        order_create(
            plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
        )
    assert exc.value.code == "order_exists"
    assert RenewalOrder.objects.count() == 1


def test_creating_a_counter_order_twice_returns_the_unpaid_one(clerk):
    campaign = make_campaign()
    previous = make_pass()
    first = order_create_onsite(previous_pass=previous, campaign=campaign, acting_user=clerk)
    second = order_create_onsite(previous_pass=previous, campaign=campaign, acting_user=clerk)
    assert first.pk == second.pk


def test_new_car_gets_a_pass_of_the_campaign_year_with_the_receipt_in_the_audit(clerk):
    campaign = make_campaign()
    previous = make_pass()
    staff = previous.holder
    car = Vehicle.objects.create(plate="粤B12345", owner=staff)
    permit = onsite_pass_issue(
        campaign=campaign,
        vehicle=car,
        holder=staff,
        acting_user=clerk,
        method="card",
        receipt_no="R9",
        reason="新购车辆",
    )
    assert permit.year == campaign.year
    assert permit.source == Pass.Source.ONSITE
    assert permit.number.startswith(f"YXB{campaign.year}")
    assert (permit.valid_from, permit.valid_to) == (campaign.valid_from, campaign.valid_to)
    entry = LogEntry.objects.get(action="registry.pass.created", object_id=str(permit.pk))
    assert "R9" in entry.reason and "新购车辆" in entry.reason
    with pytest.raises(CampusPassError) as exc:
        onsite_pass_issue(
            campaign=campaign,
            vehicle=car,
            holder=staff,
            acting_user=clerk,
            method="card",
            receipt_no="R10",
            reason="x",
        )
    assert exc.value.code == "duplicate"


def test_a_car_with_last_years_pass_renews_instead_of_a_new_pass(clerk):
    campaign = make_campaign()
    previous = make_pass()
    kwargs = {
        "campaign": campaign,
        "vehicle": previous.vehicle,
        "holder": previous.holder,
        "acting_user": clerk,
    }
    with pytest.raises(CampusPassError) as exc:
        onsite_pass_issue(method="cash", receipt_no="R1", reason="新证", **kwargs)
    assert exc.value.code == "has_previous_pass"
    other = Vehicle.objects.create(plate="京B55555", owner=previous.holder)
    onsite_renewal(
        previous_pass=previous, campaign=campaign, acting_user=clerk, method="cash", receipt_no="R2"
    )
    assert onsite_pass_issue(
        method="cash", receipt_no="R3", reason="新购车辆", **{**kwargs, "vehicle": other}
    )
    assert not Pass.objects.filter(year=campaign.year, vehicle=previous.vehicle).exists()


def test_new_pass_for_retired_staff_is_refused(clerk):
    previous = make_pass(status=Staff.Status.RETIRED)
    with pytest.raises(CampusPassError) as exc:
        onsite_pass_issue(
            campaign=make_campaign(),
            vehicle=previous.vehicle,
            holder=previous.holder,
            acting_user=clerk,
            method="cash",
            receipt_no="R1",
            reason="新证",
        )
    assert exc.value.code == "not_in_service"


def test_counter_paid_orders_are_refunded_at_the_counter(clerk, make_user):
    order = onsite_renewal(
        previous_pass=make_pass(), campaign=make_campaign(), acting_user=clerk, method="cash", receipt_no="R5"
    )
    order_reject(order=order, acting_user=make_user(REVIEWER, "rev"), reason="照片不清晰")
    order.refresh_from_db()
    note = onsite_refund_note(order)
    assert "到保卫处窗口办理退款" in note and "R5" in note
    with pytest.raises(CampusPassError):
        refund_request(order=order, acting_user=None)
    order.refresh_from_db()
    assert order.status == S.REJECTED


# --- screens ----------------------------------------------------------------------------------------


def test_every_onsite_view_is_role_checked():
    names = [p.name for p in urls_admin.urlpatterns if p.name.startswith("onsite")]
    assert names
    for pattern in urls_admin.urlpatterns:
        if pattern.name.startswith("onsite"):
            assert pattern.callback.screen == "onsite", pattern.name


def test_reviewer_cannot_open_the_desk(office_client):
    client, _ = office_client(REVIEWER)
    assert client.get(reverse("backoffice:onsite")).status_code == 403


@pytest.mark.parametrize("query", ["京a·12345", "京 A12345", "张三", "20190001", "138-1234-5678"])
def test_search_by_plate_name_staff_no_or_phone(office_client, query):
    staff = Staff.objects.create(staff_no="20190001", name="张三", mobile="13812345678", status="active")
    Vehicle.objects.create(plate="京A12345", owner=staff)
    Staff.objects.create(staff_no="20190002", name="李四", mobile="13900000000", status="active")
    client, _ = office_client(COUNTER)
    response = client.get(reverse("backoffice:onsite"), {"q": query})
    body = response.content.decode()
    assert response.status_code == 200
    assert "张三" in body and "李四" not in body
    assert "13812345678" not in body  # masked
    assert "138****5678" in body


def test_new_staff_form_shows_the_services_message_on_the_field(office_client):
    client, _ = office_client(COUNTER)
    response = client.post(
        reverse("backoffice:onsite_staff_new"),
        {"staff_no": "20190009", "name": "王五", "mobile": "12345", "status": "active", "reason": ""},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["reason"] == ["请填写办理原因。"]
    # the form-level check passes first, then the service validates the phone
    response = client.post(
        reverse("backoffice:onsite_staff_new"),
        {"staff_no": "20190009", "name": "王五", "mobile": "12345", "status": "active", "reason": "新入职"},
    )
    assert "手机号" in response.context["form"].errors["mobile"][0]
    assert not Staff.objects.filter(staff_no="20190009").exists()


def test_new_staff_is_created_with_the_clerk_and_reason(office_client):
    client, user = office_client(COUNTER)
    response = client.post(
        reverse("backoffice:onsite_staff_new"),
        {
            "staff_no": "20190009",
            "name": "王五",
            "mobile": "139 0000 1111",
            "status": "active",
            "reason": "新入职",
        },
    )
    staff = Staff.objects.get(staff_no="20190009")
    assert response.status_code == 302
    assert staff.mobile == "13900001111"
    entry = LogEntry.objects.get(action="registry.staff.created", staff_no="20190009")
    assert entry.actor == user and entry.reason == "新入职"


def test_phone_change_and_status_change_with_a_reason(office_client):
    previous = make_pass(mobile="13911112222")
    staff = previous.holder
    client, user = office_client(COUNTER)
    url = reverse("backoffice:onsite_staff_edit", args=[staff.pk])
    page = client.get(url).content.decode()
    assert "13911112222" not in page
    response = client.post(
        url,
        {
            "name": staff.name,
            "department": "药学院",
            "mobile": "13800001111",
            "status": "retired",
            "reason": "本人持证更换手机号",
        },
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert (staff.mobile, staff.department, staff.status) == ("13800001111", "药学院", "retired")
    entry = LogEntry.objects.get(action="registry.staff.updated", staff_no=staff.staff_no)
    assert entry.data["changes"]["mobile"] == ["13911112222", "13800001111"]
    assert entry.reason == "本人持证更换手机号" and entry.actor == user


def test_empty_phone_keeps_the_number_on_file(office_client):
    staff = make_pass(mobile="13911112222").holder
    client, _ = office_client(COUNTER)
    client.post(
        reverse("backoffice:onsite_staff_edit", args=[staff.pk]),
        {"name": "新名字", "department": "", "mobile": "", "status": "active", "reason": "改名"},
    )
    staff.refresh_from_db()
    assert staff.mobile == "13911112222" and staff.name == "新名字"


def test_invalid_plate_message_on_the_plate_field(office_client):
    staff = make_pass().holder
    client, _ = office_client(COUNTER)
    response = client.post(
        reverse("backoffice:onsite_vehicle_new"),
        {"plate": "京AO1234", "owner_staff_no": staff.staff_no, "reason": "新购车辆"},
    )
    assert "字母 I 或 O" in response.context["form"].errors["plate"][0]
    response = client.post(
        reverse("backoffice:onsite_vehicle_new"),
        {"plate": "京A99999", "owner_staff_no": "NOPE1", "reason": "新购车辆"},
    )
    assert "找不到工号" in response.context["form"].errors["owner_staff_no"][0]


def test_renew_screen_takes_the_payment(office_client):
    campaign = make_campaign()
    previous = make_pass(plate="津C54321")
    client, user = office_client(COUNTER)
    url = reverse("backoffice:onsite_renew", args=[previous.pk])
    assert "150.00" in client.get(url).content.decode()
    response = client.post(url, {"method": "card", "receipt_no": "", "fulfilment": "pickup"})
    assert response.context["form"].errors["receipt_no"] == ["请填写收据号。"]
    response = client.post(url, {"method": "card", "receipt_no": "POS-88", "fulfilment": "pickup"})
    assert response.status_code == 302
    order = RenewalOrder.objects.get(previous_pass=previous, campaign=campaign)
    assert (order.status, order.payment_method, order.payment_receipt_no) == (S.PAID, "card", "POS-88")


def test_full_phone_is_shown_only_with_an_audit_entry(office_client):
    staff = make_pass(mobile="13911112222").holder
    client, user = office_client(COUNTER)
    url = reverse("backoffice:onsite_staff_phone", args=[staff.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert "13911112222" in response.content.decode()
    assert (
        LogEntry.objects.filter(action="core.phone.viewed", staff_no=staff.staff_no, actor=user).count() == 1
    )


def test_admin_may_use_the_desk(office_client):
    make_pass()
    client, _ = office_client(ADMIN)
    assert client.get(reverse("backoffice:onsite"), {"q": "职工"}).status_code == 200


def test_an_online_order_is_not_taken_in_cash_at_the_counter(clerk):
    campaign = make_campaign()
    previous = make_pass()
    online = order_create(
        plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate)
    )
    with pytest.raises(CampusPassError) as exc:
        order_mark_paid_onsite(order=online, acting_user=clerk, method="cash", receipt_no="R9")
    assert exc.value.code == "not_onsite_order"
    online.refresh_from_db()
    assert online.status == S.AWAITING_CONSENT and online.payment_receipt_no == ""


def test_renew_screen_says_so_before_taking_money_when_an_order_exists(office_client):
    campaign = make_campaign()
    previous = make_pass(plate="京C54321")
    order_create(plate=previous.vehicle.plate, campaign=campaign, id_photo=photo_for(previous.vehicle.plate))
    client, user = office_client(COUNTER)
    url = reverse("backoffice:onsite_renew", args=[previous.pk])
    response = client.get(url, follow=True)
    page = response.content.decode()
    assert "请勿收款" in page and "已收款" not in page
    assert client.post(url, {"method": "cash", "receipt_no": "R1", "fulfilment": "pickup"}).status_code == 302
    assert RenewalOrder.objects.filter(previous_pass=previous).count() == 1

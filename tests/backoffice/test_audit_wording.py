"""The audit log as a person reads it (issue 14 item 12): on the screen, in the admin's detail view
and in the export every data key has its Chinese label, codes show their model choices' labels,
money is in yuan, booleans 是/否, every time is Beijing time and phone numbers stay masked."""

import datetime as dt
import io
import re

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from campuspass.backoffice.roles import ADMIN, REVIEWER
from campuspass.core.audit import describe, log_action
from campuspass.core.models import LogEntry
from campuspass.registry.services import staff_update
from campuspass.renewals.models import RenewalOrder
from campuspass.renewals.services.onsite import onsite_renewal
from campuspass.renewals.services.orders import order_set_fulfilment
from campuspass.renewals.services.review import order_claim, review_approve
from tests.renewals.factories import make_campaign, make_pass

pytestmark = pytest.mark.django_db

# 10:30:05 UTC is 18:30:05 in Beijing.
AT_UTC = dt.datetime(2026, 11, 29, 10, 30, 5, tzinfo=dt.UTC)
RAW_WORDS = re.compile(
    r"\b(axis|from|to|changes|photo_replaced|amount_fen|paid|approved|pickup|delivery|cash|"
    r"not_yet|in_use|applied|renewal|counter|awaiting_consent|pending_payment|True|False|None)\b"
)


@pytest.fixture
def history(make_user):
    """A counter renewal paid in cash, claimed and approved, its fulfilment changed; a phone change."""
    clerk = make_user("窗口", "clerk")
    reviewer = make_user(REVIEWER, "reviewer")
    campaign = make_campaign()
    permit = make_pass(plate="京A11111", mobile="13900000001")
    order = onsite_renewal(
        previous_pass=permit, campaign=campaign, acting_user=clerk, method="cash", receipt_no="R1"
    )
    order_claim(order=order, acting_user=reviewer)
    review_approve(order=order, acting_user=reviewer)
    order_set_fulfilment(
        order=RenewalOrder.objects.get(pk=order.pk),
        fulfilment=RenewalOrder.Fulfilment.DELIVERY,
        delivery_address="主楼 101",
        acting_user=clerk,
    )
    staff_update(staff=permit.holder, acting_user=clerk, reason="更换手机号", mobile="13800000002")
    LogEntry.objects.update(created_at=AT_UTC)
    return {"order": RenewalOrder.objects.get(pk=order.pk)}


def lines_of(action: str) -> list[str]:
    return describe(LogEntry.objects.get(action=action))


def test_state_moves_money_and_codes_in_chinese(history):
    paid = lines_of("renewals.order.paid")
    assert paid[0] == "状态：待支付 → 待审核"
    assert {"支付方式：现金", "凭证号：R1", "金额：150.00 元", "来源：窗口"} <= set(paid)
    recorded = lines_of("renewals.payment.recorded")
    assert {"状态：已入账", "用途：续费订单", "支付方式：现金"} <= set(recorded)
    approved = lines_of("renewals.order.approved")
    assert approved[0] == "状态：待审核 → 审核通过"
    validity = {"待生效", "使用中"}
    assert any(line.startswith("有效状态：") and line.split("：")[1] in validity for line in approved)
    assert any(line.startswith("可领取日期：20") for line in approved)
    changed = lines_of("renewals.order.fulfilment_changed")
    assert "领取方式：到保卫处领取 → 送证上门" in changed
    assert "校内详细地址：（空） → 主楼 101" in changed


def test_times_in_data_are_beijing_time(history):
    claim = LogEntry.objects.get(action="renewals.order.claimed")
    until = dt.datetime.fromisoformat(claim.data["until"])
    expected = until.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    assert f"有效至：{expected}" in describe(claim)
    assert "+00:00" not in "".join(describe(claim))


def test_booleans_and_photo_replacement_in_words():
    entry = log_action(
        actor=None,
        action="renewals.order.resubmitted",
        data={"changes": {"fulfilment": ["pickup", "delivery"]}, "photo_replaced": True},
    )
    assert describe(entry) == ["领取方式：到保卫处领取 → 送证上门", "更换了证件照片：是"]
    handed = log_action(
        actor=None,
        action="renewals.order.handed_out",
        data={"channel": "counter", "old_pass_collected": True, "id_checked": False},
    )
    assert describe(handed) == ["渠道：窗口领取", "已收回旧证：是", "已核验工作证：否"]


def test_refund_axis_and_signin_reason():
    refund = log_action(
        actor=None,
        action="renewals.refund.succeeded",
        data={"axis": "refund", "from": "processing", "to": "succeeded", "source": "notification"},
    )
    assert describe(refund) == ["退款状态：退款处理中 → 退款成功", "来源：支付平台通知"]
    failed = log_action(
        actor=None, action="core.signin.failed", data={"username": "x", "ip": "10.0.0.1", "reason": "locked"}
    )
    assert describe(failed) == ["用户名：x", "IP 地址：10.0.0.1", "失败原因：已锁定"]


def test_phone_numbers_stay_masked(history):
    lines = lines_of("registry.staff.updated")
    assert lines == ["手机号：139****0001 → 138****0002"]


def test_no_raw_english_on_the_screen(office_client, history):
    client, _ = office_client(ADMIN)
    response = client.get(reverse("backoffice:audit"))
    for entry in response.context["page"].object_list:
        for line in entry.lines:
            label, _, value = line.partition("：")
            assert re.search(r"[\u4e00-\u9fff]", label), line
            assert not RAW_WORDS.search(value), line
    body = response.content.decode()
    assert "2026-11-29 18:30:05" in body and "2026-11-29 10:30:05" not in body
    assert "13900000001" not in body and "139****0001" in body


def test_unknown_keys_still_show():
    entry = log_action(actor=None, action="test.unknown", data={"mystery": 7})
    assert describe(entry) == ["mystery：7"]


def test_export_in_beijing_time_and_chinese(office_client, history):
    client, _ = office_client(ADMIN)
    response = client.get(reverse("backoffice:audit_export"), {"action": "renewals.order.paid"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "2026-11-29 18:30:05"
    assert rows[1][2] == "已支付"
    assert "状态：待支付 → 待审核" in rows[1][8] and "金额：150.00 元" in rows[1][8]
    assert not RAW_WORDS.search(rows[1][8].replace("renewals.order.paid", ""))


def test_admin_detail_view_is_worded_too(admin_client, history):
    entry = LogEntry.objects.get(action="registry.staff.updated")
    response = admin_client.get(reverse("admin:core_logentry_change", args=[entry.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "2026-11-29 18:30:05" in body and "修改职工信息" in body
    assert "手机号：139****0001 → 138****0002" in body
    assert "13800000002" not in body
    listing = admin_client.get(reverse("admin:core_logentry_changelist")).content.decode()
    assert "2026-11-29 18:30:05" in listing and "已支付" in listing
    assert str(entry).startswith("2026-11-29 18:30:05")


def test_platform_answers_in_chinese():
    mismatch = log_action(
        actor=None,
        action="renewals.order.payment_mismatch",
        data={"source": "query", "fields": ["appid", "amount"], "reported_fen": 1},
    )
    assert describe(mismatch) == ["来源：查询支付平台", "不符字段：公众号 AppID、金额", "平台金额：0.01 元"]
    refunded = log_action(
        actor=None,
        action="renewals.order.refunded",
        data={"axis": "order", "from": "refunding", "to": "refunded", "platform_status": "SUCCESS"},
    )
    assert describe(refunded) == ["状态：退款中 → 已退款", "平台状态：退款成功"]

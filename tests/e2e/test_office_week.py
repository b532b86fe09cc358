"""Issue 14 in the back office at 1280 px: a courier claims a delivery, prints their own list with the
full number and records a failed delivery (the pass goes back to the counter); finance opens 对账 and
a day's differences; an administrator imports a file whose preview lists the passes it moves to
another person or vehicle and confirms them explicitly."""

import datetime as dt

import pytest

from campuspass.registry.imports import import_passes
from campuspass.registry.models import Pass
from campuspass.renewals.models import ReconciliationRun, RenewalOrder
from tests.backoffice.test_counter import approved_order
from tests.registry.test_imports import row, write_csv
from tests.renewals.factories import make_campaign

from .conftest import reload
from .test_backoffice_flow import office_user, paid_through_the_simulator, sign_in, sign_out

pytestmark = pytest.mark.django_db(transaction=True)


def test_courier_finance_and_import(office, shots, live_server, live_settings, tmp_path):
    campaign = make_campaign()
    order = approved_order(campaign, fulfilment="delivery", address="逸夫楼3层301")
    office_user("courier1", "配送")
    office_user("finance1", "财务")
    office_user("admin1", "管理员")
    page = office
    shot = shots(page, "office-week")

    # 配送: claim without a clerk, print the own list with the full number, then 未送达.
    sign_in(page, live_server.url, "courier1")
    page.goto(f"{live_server.url}/office/delivery/")
    page.get_by_label(f"认领 {order.plate}").check()
    shot("courier-claim")
    page.get_by_role("button", name="认领所选订单").click()
    assert "已认领 1 个" in page.content() and "分派给我的（1）" in page.content()
    with page.context.expect_page() as printed:
        page.get_by_role("link", name="打印送证清单").click()
    sheet = printed.value
    sheet.wait_for_load_state()
    assert order.staff.mobile in sheet.content()
    sheet.close()
    page.locator("details.failed summary").first.click()
    page.get_by_role("button", name="登记未送达，证交回窗口").click()
    assert "已登记未送达" in page.content()
    shot("courier-failed-delivery")
    reload(order, page)
    assert order.fulfilment == RenewalOrder.Fulfilment.PICKUP and order.courier is None
    assert order.fulfilment_status == RenewalOrder.Handover.TO_COLLECT  # 配送中 → 待领取 (decision 0034)
    sign_out(page)

    # 财务: 对账.
    ReconciliationRun.objects.create(
        day=dt.date(2026, 3, 2), payments_ours=3, payments_bill=3, paid_total_fen=45000
    )
    ReconciliationRun.objects.create(
        day=dt.date(2026, 3, 3),
        payments_ours=1,
        payments_bill=2,
        paid_total_fen=15000,
        differences=[
            {
                "kind": "payment",
                "key": "CP2026030300001",
                "ours_fen": None,
                "bill_fen": 15000,
                "problem": "账单中有，本系统没有记录",
            }
        ],
    )
    sign_in(page, live_server.url, "finance1")
    page.get_by_role("link", name="对账").click()
    assert "1 天有差异" in page.content()
    shot("finance-reconcile")
    page.get_by_role("link", name="查看").first.click()
    assert "CP2026030300001" in page.content()
    shot("finance-reconcile-day")
    sign_out(page)

    # 管理员: the import preview lists the moved passes; confirming needs the explicit tick.
    import_passes(
        path=write_csv(
            tmp_path / "a.csv",
            [
                row(),
                row(
                    工号="20010002",
                    姓名="李四",
                    手机号="13912345678",
                    车牌号="京B22222",
                    通行证编号="YXB201800002",
                ),
            ],
        )
    )
    moved = write_csv(
        tmp_path / "2018登记表.csv",
        [
            row(
                工号="20010003",
                姓名="王五",
                手机号="13712345678",
                车牌号="京B22222",
                通行证编号="YXB201800002",
            )
        ],
    )
    sign_in(page, live_server.url, "admin1")
    page.get_by_role("link", name="导入").click()
    page.set_input_files("input[type=file]", str(moved))
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_selector("#import-moved")
    assert "李四（20010002）" in page.content() and "王五（20010003）" in page.content()
    shot("import-preview-moved")
    page.get_by_role("button", name="确认导入").click()  # the browser asks for the tick first
    assert Pass.objects.get(number="YXB201800002").holder.name == "李四"
    page.get_by_label("我已核对以上 1 张通行证的转移").check()
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_selector("text=导入已完成")
    assert Pass.objects.get(number="YXB201800002").holder.name == "王五"
    shot("import-done")


def test_reviewer_undo_centred_zoom_and_ctrl_enter(office, shots, live_server, live_settings):
    from campuspass.renewals.models import RejectReason

    RejectReason.objects.get_or_create(text="照片与登记的车主信息不符")
    campaign = make_campaign()
    first = paid_through_the_simulator(campaign, "京A10001")
    second = paid_through_the_simulator(campaign, "京B20002")
    office_user("shenhe", "审核员")
    page = office
    shot = shots(page, "office-review")
    sign_in(page, live_server.url, "shenhe")
    page.goto(f"{live_server.url}/office/review/next/")
    page.locator("h1", has_text="京A10001").wait_for()

    # The zoomed photo opens on its middle, not on a corner (a small screen: it overflows).
    page.set_viewport_size({"width": 640, "height": 420})
    page.keyboard.press("z")
    overlay = page.locator("#photo-overlay")
    overlay.wait_for()
    page.wait_for_function("document.getElementById('photo-big').complete")
    offsets = overlay.evaluate(
        "o => [o.scrollLeft, (o.scrollWidth - o.clientWidth) / 2, o.scrollTop, (o.scrollHeight - o.clientHeight) / 2]"
    )
    assert offsets[1] > 20 and offsets[3] > 20  # it does overflow both ways
    assert abs(offsets[0] - offsets[1]) <= 2 and abs(offsets[2] - offsets[3]) <= 2
    shot("zoom-centred")
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 1280, "height": 800})

    # A approves only after 5 seconds; Esc undoes it.
    page.keyboard.press("a")
    assert page.locator("#undo-box").is_visible()
    shot("approve-undo-window")
    page.keyboard.press("Escape")
    assert page.locator("#undo-box").is_hidden()
    page.wait_for_timeout(5500)
    reload(first, page)
    assert first.status == RenewalOrder.Status.PAID  # undone: nothing happened
    page.keyboard.press("a")
    page.locator("h1", has_text="京B20002").wait_for()
    reload(first, page)
    assert first.status == RenewalOrder.Status.APPROVED

    # Ctrl+Enter in the note submits the rejection.
    page.keyboard.press("r")
    page.fill("#id_note", "照片中工号看不清")
    # The form's POST and the page it leads to: wait for that navigation itself (the review URL
    # matched before the submit too), then for the database, up to 15 s on a loaded CI machine.
    with page.expect_navigation(timeout=15_000):
        page.keyboard.press("Control+Enter")
    page.wait_for_load_state()
    for _ in range(150):
        reload(second, page)
        if second.status == RenewalOrder.Status.REJECTED:
            break
        page.wait_for_timeout(100)
    assert second.status == RenewalOrder.Status.REJECTED and "照片中工号看不清" in second.reject_reason


def test_a_person_with_every_role_sees_the_whole_bar_and_the_counter_fits_a_narrow_window(
    office, shots, live_server, live_settings
):
    """Every screen in the bar (a person holding all five roles) stays inside the dark bar at 1280 px
    (its fixed height used to let the second row of links run out of it), and at 800 and 414 px the
    counter's card keeps its hand-out form inside the card."""
    from django.contrib.auth.models import Group

    campaign = make_campaign()
    order = approved_order(campaign)
    user = office_user("everyone1", "管理员")
    for role in ("审核员", "窗口", "财务", "配送"):
        user.groups.add(Group.objects.get(name=role))
    page = office
    shot = shots(page, "office-narrow")
    sign_in(page, live_server.url, "everyone1")
    inside = """() => {
        const bar = document.querySelector('header.bar').getBoundingClientRect();
        const out = [...document.querySelectorAll('header.bar a, header.bar button, header.bar span')]
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.top < bar.top || r.bottom > bar.bottom || r.right > bar.right; })
            .map(e => e.textContent.trim());
        return out;
    }"""
    fits = """() => [...document.querySelectorAll('.order-card')].flatMap(card => {
        const box = card.getBoundingClientRect();
        return [...card.querySelectorAll('button, a, input, dd')]
            .filter(e => { const r = e.getBoundingClientRect(); return r.right > box.right + 0.5; })
            .map(e => e.textContent.trim() || e.name);
    })"""
    for width in (1280, 800, 414):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(f"{live_server.url}/office/counter/?q={order.plate}")
        assert page.get_by_role("button", name="发放").is_visible()
        assert page.evaluate(inside) == [], width
        assert page.evaluate(fits) == [], width
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        shot(f"counter-{width}")

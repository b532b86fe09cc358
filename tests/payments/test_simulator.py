import datetime as dt
import json
import stat

import pytest
import responses
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from campuspass.payments.models import SimNotification, SimRefund, SimTransaction
from campuspass.payments.providers import PaymentProviderError, get_provider
from campuspass.payments.simulator import bank
from campuspass.payments.simulator.keys import get_faults, get_keys, set_faults

from .factories import place_order

pytestmark = pytest.mark.django_db
NOTIFY = "http://notify.test/pay/notify/payment/"
REFUND_NOTIFY = "http://notify.test/pay/notify/refund/"


def paid_order(out_trade_no="CP2025000001", amount_fen=15000):
    place_order(out_trade_no=out_trade_no, amount_fen=amount_fen)
    bank.confirm_payment(out_trade_no)


def refund(out_refund_no="R1", amount_fen=15000, total_fen=15000, out_trade_no="CP2025000001"):
    return get_provider().refund(
        out_trade_no=out_trade_no,
        out_refund_no=out_refund_no,
        amount_fen=amount_fen,
        total_fen=total_fen,
        reason="审核不通过",
        notify_url=REFUND_NOTIFY,
    )


# --- keys ----------------------------------------------------------------------------------------


def test_keys_generated_on_first_use_with_0600(settings, tmp_path):
    settings.PAYMENT_SIMULATOR_DIR = tmp_path / "fresh"
    keys = get_keys()
    path = tmp_path / "fresh" / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.serial.startswith("PUB_KEY_ID_SIM") and len(keys.apiv3_key) == 32
    assert get_keys().serial == keys.serial  # reused, not regenerated


# --- orders --------------------------------------------------------------------------------------


def test_query_and_close_answered_from_state():
    place_order()
    provider = get_provider()
    assert provider.query("CP2025000001").trade_state == "NOTPAY"
    provider.close("CP2025000001")
    assert provider.query("CP2025000001").trade_state == "CLOSED"
    with pytest.raises(PaymentProviderError) as exc:
        provider.query("NOPE")
    assert exc.value.code == "ORDER_NOT_EXIST"


def test_paid_order_cannot_be_closed():
    paid_order()
    state = get_provider().query("CP2025000001")
    assert state.trade_state == "SUCCESS" and state.amount_fen == 15000 and state.transaction_id
    with pytest.raises(PaymentProviderError) as exc:
        get_provider().close("CP2025000001")
    assert exc.value.code == "ORDERPAID"


def test_expired_order_reads_closed_and_cannot_be_paid():
    place_order()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=31)):
        assert get_provider().query("CP2025000001").trade_state == "CLOSED"
        with pytest.raises(PaymentProviderError):
            bank.confirm_payment("CP2025000001")


# --- refunds -------------------------------------------------------------------------------------


def test_unpaid_order_cannot_be_refunded():
    place_order()
    with pytest.raises(PaymentProviderError) as exc:
        refund()
    assert exc.value.code == "RESOURCE_NOT_EXISTS"  # the refund API answers unknown and unpaid alike
    assert SimRefund.objects.count() == 0


def test_refund_may_not_exceed_paid():
    paid_order()
    refund("R1", amount_fen=10000)
    with pytest.raises(PaymentProviderError):
        refund("R2", amount_fen=5001)
    assert refund("R3", amount_fen=5000).status == "PROCESSING"
    with pytest.raises(PaymentProviderError):
        refund("R4", amount_fen=15001)


def test_same_out_refund_no_returns_same_refund():
    paid_order()
    first = refund("R1", amount_fen=15000)
    again = refund("R1", amount_fen=15000)
    assert first.refund_id == again.refund_id
    assert SimRefund.objects.count() == 1


def test_refund_processing_then_success_notified(django_capture_on_commit_callbacks):
    paid_order()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, REFUND_NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            state = refund()
        assert state.status == "PROCESSING"  # answered at once
        refund_call = [c for c in mock.calls if c.request.url == REFUND_NOTIFY]
        assert len(refund_call) == 1
    assert get_provider().query_refund("R1").status == "SUCCESS"
    assert get_provider().query("CP2025000001").trade_state == "REFUND"
    note = SimNotification.objects.get(kind="refund")
    assert note.event_type == "REFUND.SUCCESS" and note.acknowledged


def test_refund_fail_fault_gives_abnormal(settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_FAULTS = ["refund_fail"]
    paid_order()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, REFUND_NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            refund()
    assert get_provider().query_refund("R1").status == "ABNORMAL"
    assert SimNotification.objects.get(kind="refund").event_type == "REFUND.ABNORMAL"


# --- notifications -------------------------------------------------------------------------------


def test_confirm_delivers_encrypted_signed_notification(django_capture_on_commit_callbacks):
    place_order()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            bank.confirm_payment("CP2025000001")
        request = mock.calls[0].request
    envelope = json.loads(request.body)
    assert envelope["resource_type"] == "encrypt-resource"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert "ciphertext" in envelope["resource"] and "out_trade_no" not in request.body.decode()
    # The same verifier as for the real platform accepts it.
    notification = get_provider().verify_notification(request.headers, request.body)
    assert notification.event_type == "TRANSACTION.SUCCESS"
    resource = notification.resource
    assert resource["out_trade_no"] == "CP2025000001"
    assert resource["amount"] == {
        "total": 15000,
        "payer_total": 15000,
        "currency": "CNY",
        "payer_currency": "CNY",
    }
    assert resource["trade_state"] == "SUCCESS" and resource["trade_type"] == "JSAPI"
    assert resource["payer"]["openid"] == "o-test"
    assert SimNotification.objects.get().acknowledged


def test_failed_delivery_retried_on_schedule(settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_TIME_SCALE = 3
    place_order()
    start = timezone.now()
    with time_machine.travel(start, tick=False), responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, status=500)
        with django_capture_on_commit_callbacks(execute=True):
            bank.confirm_payment("CP2025000001")
    note = SimNotification.objects.get()
    assert note.attempts == 1 and not note.acknowledged
    assert note.next_attempt_at == start + dt.timedelta(seconds=5)  # 15 s / 3
    with time_machine.travel(start + dt.timedelta(seconds=4), tick=False):
        assert bank.deliver_due_notifications() == 0  # not due yet
    with time_machine.travel(start + dt.timedelta(seconds=6), tick=False), responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        assert bank.deliver_due_notifications() == 1
    note.refresh_from_db()
    assert note.acknowledged and note.attempts == 2


def test_drop_fault_never_delivers(settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_FAULTS = ["drop"]
    place_order()
    with responses.RequestsMock() as mock, django_capture_on_commit_callbacks(execute=True):
        bank.confirm_payment("CP2025000001")
        assert bank.deliver_due_notifications() == 0
        assert len(mock.calls) == 0
    assert SimNotification.objects.get().dropped


def test_duplicate_fault_sends_same_event_twice(settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_FAULTS = ["duplicate"]
    place_order()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            bank.confirm_payment("CP2025000001")
        bodies = [c.request.body for c in mock.calls]
        nonces = {c.request.headers["Wechatpay-Nonce"] for c in mock.calls}
    assert len(bodies) == 2 and bodies[0] == bodies[1] and len(nonces) == 2


def test_delay_fault_holds_first_attempt(settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_FAULTS = ["delay"]
    place_order()
    start = timezone.now()
    with time_machine.travel(start, tick=False), responses.RequestsMock() as mock:
        with django_capture_on_commit_callbacks(execute=True):
            bank.confirm_payment("CP2025000001")
        assert len(mock.calls) == 0
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False), responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        assert bank.deliver_due_notifications() == 1


def test_reorder_fault_sends_later_ones_first(settings, django_capture_on_commit_callbacks):
    settings.PAYMENT_SIMULATOR_FAULTS = ["reorder"]
    start = timezone.now()
    with time_machine.travel(start, tick=False), django_capture_on_commit_callbacks(execute=True):
        paid_order("CP1")
        paid_order("CP2")
    with time_machine.travel(start + dt.timedelta(seconds=31), tick=False), responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        assert bank.deliver_due_notifications() == 2
        order = [
            get_provider().verify_notification(c.request.headers, c.request.body).resource["out_trade_no"]
            for c in mock.calls
        ]
    assert order == ["CP2", "CP1"]


def test_paysim_command_faults_list_replay_deliver(capsys, django_capture_on_commit_callbacks):
    call_command("paysim", "faults", "drop", "duplicate")
    assert get_faults() == {"drop", "duplicate"}
    call_command("paysim", "faults", "--reset")
    assert get_faults() == set()
    with pytest.raises(ValueError):
        set_faults(["explode"])
    place_order()
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            bank.confirm_payment("CP2025000001")
        note = SimNotification.objects.get()
        call_command("paysim", "list")
        call_command("paysim", "replay", str(note.pk))
        call_command("paysim", "replay", str(note.pk), "--raw")
        call_command("paysim", "deliver")
        first, fresh, raw = mock.calls
    assert first.request.body == fresh.request.body == raw.request.body
    assert fresh.request.headers["Wechatpay-Nonce"] != first.request.headers["Wechatpay-Nonce"]
    assert raw.request.headers["Wechatpay-Nonce"] == fresh.request.headers["Wechatpay-Nonce"]
    out = capsys.readouterr().out
    assert f"#{note.pk} TRANSACTION.SUCCESS" in out and "已重放" in out


def test_download_bill_from_state(django_capture_on_commit_callbacks):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        mock.add(responses.POST, REFUND_NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            paid_order()
            refund(amount_fen=5000)
    day = timezone.localdate()
    # WeChat makes day D's bill on D+1 morning (Beijing time); test_vendor_rules covers the states.
    with time_machine.travel(timezone.now() + dt.timedelta(days=1, hours=12)):
        rows = get_provider().download_bill(day)
        assert [(r.kind, r.amount_fen, r.state) for r in rows] == [
            ("payment", 15000, "SUCCESS"),
            ("refund", 5000, "SUCCESS"),
        ]
        with pytest.raises(PaymentProviderError) as exc:
            get_provider().download_bill(day - dt.timedelta(days=1))
        assert exc.value.code == "NO_STATEMENT_EXIST"


def test_oauth_round_trip():
    provider = get_provider()
    url = provider.oauth_url("/renew/start/?x=1", "st4te")
    assert url.startswith("/renew/start/?x=1&code=SIMCODE-") and "state=st4te" in url
    assert provider.openid_from_code("SIMCODE-campuspass").startswith("o-sim-")
    with pytest.raises(PaymentProviderError):
        provider.openid_from_code("forged")


@pytest.mark.parametrize("state", ["a-b", "a_b", "", "x" * 129])
def test_oauth_state_must_be_letters_and_digits(state):
    """WeChat's web OAuth documents state as a-zA-Z0-9 (at most 128 bytes); token_urlsafe gave - and _."""
    with pytest.raises(ValueError):
        get_provider().oauth_url("/renew/start/", state)


# --- cashier page --------------------------------------------------------------------------------


def test_cashier_page_shows_amount_and_buttons(client):
    payment = place_order(return_url="/renew/orders/1/")
    response = client.get(payment.cashier_url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>模拟微信支付</title>" in html
    assert "¥150.00" in html and "确认支付" in html and "取消支付" in html
    assert "2025年度校园车证续办" in html
    assert 'name="viewport"' in html


@pytest.mark.parametrize(
    "bad", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_cashier_rejects_non_relative_return_url(client, bad):
    payment = place_order()
    assert client.get(payment.cashier_url, {"return_url": bad}).status_code == 400
    with pytest.raises(PaymentProviderError):
        place_order(out_trade_no="CP2", return_url=bad)


def test_cashier_confirm_needs_csrf_then_pays_and_redirects(django_capture_on_commit_callbacks):
    payment = place_order(return_url="/renew/orders/1/")
    client = Client(enforce_csrf_checks=True)
    assert client.post(payment.cashier_url, {"action": "confirm"}).status_code == 403
    page = client.get(payment.cashier_url)
    token = page.context["csrf_token"]
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, NOTIFY, json={"code": "SUCCESS"})
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                payment.cashier_url, {"action": "confirm", "csrfmiddlewaretoken": str(token)}
            )
    assert response.status_code == 302 and response["Location"] == "/renew/orders/1/"
    assert SimTransaction.objects.get().state == "SUCCESS"
    assert SimNotification.objects.get().acknowledged


def test_cashier_cancel_leaves_order_unpaid(client):
    payment = place_order(return_url="/renew/orders/1/")
    response = client.post(payment.cashier_url, {"action": "cancel"})
    assert response.status_code == 302 and response["Location"] == "/renew/orders/1/?cancelled=1"
    assert SimTransaction.objects.get().state == "NOTPAY"
    assert SimNotification.objects.count() == 0


def test_cashier_only_with_simulator(client, settings):
    payment = place_order()
    settings.PAYMENT_PROVIDER = "wechatpay"
    assert client.get(payment.cashier_url).status_code == 404

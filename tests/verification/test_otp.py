"""SMS one-time codes (product.md §3.3–3.4 and the verification issue): one test per rule, time frozen."""

import logging
import threading

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from campuspass.verification import otp
from campuspass.verification.models import OtpCode, ThrottleCounter
from campuspass.verification.otp import grant, granted_plate, request_code, revoke, verify_code

pytestmark = pytest.mark.django_db

PLATE = "京A12345"
PHONE = "13812345678"
IP = "10.1.2.3"


def new_session():
    session = SessionStore()
    session.save()
    return session


@pytest.fixture
def session():
    return new_session()


def send(session, *, plate=PLATE, phone=PHONE, ip=IP, purpose="lookup", openid="", human_checked=False):
    key = session if isinstance(session, str) else session.session_key
    return request_code(
        plate=plate,
        phone_on_file=phone,
        session_key=key,
        ip=ip,
        purpose=purpose,
        openid=openid,
        human_checked=human_checked,
    )


def check(session, code, *, plate=PLATE, ip=IP, purpose="lookup"):
    key = session if isinstance(session, str) else session.session_key
    return verify_code(plate=plate, session_key=key, purpose=purpose, code=code, ip=ip)


def wrong(code):
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --- sending ---------------------------------------------------------------------------------------


def test_code_is_six_random_digits_sent_only_to_the_number_on_file(sms, clock, session):
    result = send(session, phone="+86 138-1234-5678")
    assert result.sent and result.retry_after_seconds == 60
    assert "验证码已发送至该车牌登记的手机号" in result.message
    assert len(sms.calls) == 1
    call = sms.calls[0]
    assert call["phone"] == PHONE
    assert call["template"] == "otp"
    assert call["params"]["minutes"] == 5
    assert len(call["params"]["code"]) == 6 and call["params"]["code"].isdigit()
    assert call["related"] == f"otp:{OtpCode.objects.get().pk}"


def test_code_is_stored_hashed_and_no_phone_or_plate_in_throttle_scopes(sms, clock, session):
    send(session)
    code = sms.last_code
    row = OtpCode.objects.get()
    values = [str(v) for v in OtpCode.objects.values_list().get()]
    assert code not in " ".join(values)
    assert PHONE not in " ".join(values)
    assert len(row.code_hash) == 64 and row.code_hash != code
    assert session.session_key not in " ".join(values)
    scopes = " ".join(ThrottleCounter.objects.values_list("scope", flat=True))
    assert PHONE not in scopes and PLATE not in scopes and "A12345" not in scopes
    assert session.session_key not in scopes


def test_one_send_per_60_seconds_per_phone(sms, clock, session):
    assert send(session).sent
    again = send(session)
    assert not again.sent and again.retry_after_seconds == 60
    assert again.message == "验证码刚刚已发送，请先查看短信；如需重新获取，请在 1 分钟后重试。"
    clock.shift(15)
    assert send(session).retry_after_seconds == 45
    # Another session or plate for the same phone does not get round it.
    assert not send(new_session()).sent
    clock.shift(45)
    assert send(session).sent
    assert len(sms.calls) == 2


def test_five_sends_per_hour_per_phone(sms, clock):
    for _ in range(5):
        assert send(new_session()).sent
        clock.shift(60)
    refused = send(new_session())
    assert not refused.sent
    assert refused.retry_after_seconds == 3600 - 5 * 60
    assert "55 分钟" in refused.message
    clock.shift(3600 - 5 * 60)
    assert send(new_session()).sent
    assert len(sms.calls) == 6


def test_ten_sends_per_day_per_phone(sms, clock):
    for _ in range(2):
        for _ in range(5):
            assert send(new_session()).sent
            clock.shift(60)
        clock.shift(3600)
    refused = send(new_session())
    assert not refused.sent
    assert "分钟" in refused.message and "小时" not in refused.message
    clock.shift(refused.retry_after_seconds - 1)
    assert not send(new_session()).sent
    clock.shift(1)
    assert send(new_session()).sent
    assert len(sms.calls) == 11


def test_same_phone_limit_applies_across_plates_of_one_person(sms, clock):
    assert send(new_session(), plate="京A12345").sent
    # One person, two vehicles, one phone: the phone gets no second SMS within the minute — and the
    # answer is the one an unknown plate gets (test_a_second_car_of_a_throttled_owner_…).
    send(new_session(), plate="京B54321")
    assert len(sms.calls) == 1


def test_per_ip_flood_ceiling_is_said_as_the_network_not_the_person(sms, clock, settings):
    settings.VERIFICATION_IP_SEND_LIMITS = ((3600, 20), (86400, 50))
    for i in range(20):
        assert send(new_session(), plate=f"京A{i:05d}", phone=f"138000{i:05d}", human_checked=True).sent
    refused = send(new_session(), plate="京A99999", phone="13899999999", human_checked=True)
    assert not refused.sent and refused.retry_after_seconds == 3600 and refused.code == "network_busy"
    assert "您所在的网络" in refused.message and "60 分钟" in refused.message
    assert "频繁" not in refused.message
    assert send(new_session(), plate="京A99999", phone="13899999999", ip="10.9.9.9").sent
    # 50 a day: two more full hours take it to 50, then the day is closed.
    for hour in (1, 2):
        clock.shift(3600)
        for i in range(15):
            n = hour * 100 + i
            assert send(new_session(), plate=f"京A{n:05d}", phone=f"139000{n:05d}", human_checked=True).sent
    assert not send(new_session(), plate="京B00001", phone="13700000001", human_checked=True).sent
    clock.shift(3600)
    day_refused = send(new_session(), plate="京B00001", phone="13700000001", human_checked=True)
    assert not day_refused.sent
    assert day_refused.retry_after_seconds == 86400 - 3 * 3600


def test_ipv6_clients_are_counted_per_64_prefix(sms, clock, settings):
    settings.VERIFICATION_IP_SEND_LIMITS = ((3600, 1),)
    assert send(new_session(), ip="2001:db8:1:2::1").sent
    refused = send(new_session(), plate="京B11111", phone="13911111111", ip="2001:db8:1:2:ffff::9")
    assert not refused.sent
    assert send(new_session(), plate="京B11111", phone="13911111111", ip="2001:db8:1:3::1").sent


def test_per_session_limit(sms, clock, session):
    for i in range(10):
        assert send(session, plate=f"京A{i:05d}", phone=f"138000{i:05d}").sent
    assert not send(session, plate="京A00099", phone="13800000099").sent


def test_throttled_request_sends_nothing_and_creates_no_code(sms, clock, session):
    send(session)
    send(session)
    assert len(sms.calls) == 1
    assert OtpCode.objects.count() == 1


def test_new_code_invalidates_the_earlier_one(sms, clock, session):
    send(session)
    first = sms.last_code
    clock.shift(60)
    send(session)
    second = sms.last_code
    if first != second:
        assert check(session, first).code == "wrong"
    assert check(session, second).ok


# --- unknown plates --------------------------------------------------------------------------------


def test_unknown_plate_gets_the_same_answer_and_no_sms(sms, clock):
    known = send(new_session(), plate="京A12345", phone=PHONE)
    unknown = send(new_session(), plate="京B77777", phone=None)
    assert (unknown.sent, unknown.retry_after_seconds, unknown.message, unknown.code) == (
        known.sent,
        known.retry_after_seconds,
        known.message,
        known.code,
    )
    assert len(sms.calls) == 1


def test_unknown_plate_is_throttled_and_verified_like_a_known_one(sms, clock):
    s_known, s_unknown = new_session(), new_session()
    send(s_known, plate="京A12345", phone=PHONE)
    send(s_unknown, plate="京B77777", phone=None)
    again_known = send(s_known, plate="京A12345", phone=PHONE)
    again_unknown = send(s_unknown, plate="京B77777", phone=None)
    assert again_known == again_unknown
    for attempt in range(5):
        r_known = check(s_known, wrong(sms.last_code), plate="京A12345")
        r_unknown = check(s_unknown, f"{attempt:06d}", plate="京B77777")
        assert (r_known.ok, r_known.message, r_known.code) == (
            r_unknown.ok,
            r_unknown.message,
            r_unknown.code,
        )
    assert len(sms.calls) == 1
    assert OtpCode.objects.filter(plate="京B77777", code_hash="").count() == 1


def test_unknown_plate_code_can_never_verify(sms, clock, session, monkeypatch):
    monkeypatch.setattr(otp.secrets, "randbelow", lambda n: 123456)
    send(session, plate="京B77777", phone=None)
    assert not check(session, "123456", plate="京B77777").ok


def test_invalid_phone_on_file_behaves_like_unknown_plate(sms, clock, session):
    result = send(session, phone="12345")
    assert result.sent and sms.calls == []


# --- verifying -------------------------------------------------------------------------------------


def test_right_code_verifies_once(sms, clock, session):
    send(session)
    code = sms.last_code
    result = check(session, code)
    assert result.ok and result.code == "ok"
    second = check(session, code)
    assert not second.ok and second.code == "no_code"
    assert OtpCode.objects.get().used_at is not None


def test_code_input_is_normalised(sms, clock, session):
    send(session)
    code = sms.last_code
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in code)
    spaced = f" {fullwidth[:3]} {fullwidth[3:]}\u3000"
    assert check(session, spaced).ok


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12a456", None])
def test_malformed_code_is_refused_without_using_an_attempt(sms, clock, session, bad):
    send(session)
    result = check(session, bad)
    assert result.code == "invalid_format"
    assert OtpCode.objects.get().attempts == 0


def test_code_valid_at_4_59(sms, clock, session):
    send(session)
    clock.shift(4 * 60 + 59)
    assert check(session, sms.last_code).ok


def test_code_expired_at_5_01(sms, clock, session):
    send(session)
    clock.shift(5 * 60 + 1)
    result = check(session, sms.last_code)
    assert not result.ok and result.code == "expired"
    assert result.message == "验证码已过期，请重新获取验证码。"


def test_five_wrong_entries_kill_the_code(sms, clock, session):
    send(session)
    code = sms.last_code
    for left in (4, 3, 2, 1):
        result = check(session, wrong(code))
        assert result.code == "wrong" and f"还可以输入 {left} 次" in result.message
    fifth = check(session, wrong(code))
    assert fifth.code == "too_many_attempts" and "请重新获取验证码" in fifth.message
    assert check(session, code).code == "too_many_attempts"  # even the right code is dead now
    clock.shift(60)
    send(session)
    assert check(session, sms.last_code).ok


def test_ten_failures_a_day_lock_the_phone_for_an_hour_then_unlock(sms, clock, session):
    for _ in range(2):
        send(session)
        code = sms.last_code
        for _ in range(5):
            last = check(session, wrong(code))
        clock.shift(60)
    assert last.code == "locked"
    assert last.message == "验证失败次数过多，请 60 分钟后再试。"
    # Locked: no new code, and the lock holds for another session and plate of the same phone.
    refused = send(session)
    assert not refused.sent and refused.code == "locked"
    # Another plate of the same phone: no SMS while the phone is locked, but no telling answer either.
    other = send(new_session(), plate="京B54321")
    assert other.code == "sent" and len(sms.calls) == 2
    clock.shift(3600 - 60 - 1)
    assert send(session).code == "locked"
    clock.shift(1)
    assert send(session).sent
    assert check(session, sms.last_code).ok


def test_lock_refuses_even_the_right_code(sms, clock, session):
    send(session)
    good = sms.last_code
    # Two other sessions burn the phone's 10 failures while `session` still holds a live code.
    for _ in range(2):
        clock.shift(60)
        other = new_session()
        send(other)
        for _ in range(5):
            check(other, wrong(sms.last_code))
    result = check(session, good)
    assert not result.ok and result.code == "locked"


@pytest.mark.parametrize(
    ("field", "value"),
    [("plate", "京B54321"), ("session", "other"), ("purpose", "orders")],
)
def test_code_is_bound_to_plate_session_and_purpose(sms, clock, session, field, value):
    send(session)
    code = sms.last_code
    other_session = new_session()
    kwargs = {"plate": PLATE, "purpose": "lookup"}
    target = session
    if field == "session":
        target = other_session
    else:
        kwargs[field] = value
    assert not check(target, code, **kwargs).ok
    assert check(session, code).ok  # the failed try elsewhere did not touch this code's attempts


def test_code_for_one_plate_does_not_verify_another_plate_in_the_same_session(sms, clock, session):
    send(session, plate="京A12345", phone=PHONE)
    code_a = sms.last_code
    send(session, plate="京B54321", phone="13911112222")
    code_b = sms.last_code
    if code_a != code_b:
        assert not check(session, code_a, plate="京B54321").ok
    assert check(session, code_b, plate="京B54321").ok


# --- session grant ---------------------------------------------------------------------------------


def test_grant_cycles_the_session_key_and_unlocks_one_plate(clock, session):
    old_key = session.session_key
    grant(session, "京 a·12345")
    session.save()
    assert session.session_key != old_key
    assert granted_plate(session) == PLATE
    grant(session, "京B54321")
    assert granted_plate(session) == "京B54321"  # the grant covers exactly one plate


def test_grant_expires_after_30_minutes(clock, session):
    grant(session, PLATE)
    clock.shift(30 * 60 - 1)
    assert granted_plate(session) == PLATE
    clock.shift(1)
    assert granted_plate(session) is None


def test_grant_lifetime_is_configurable(clock, session, settings):
    settings.VERIFICATION_GRANT_SECONDS = 60
    grant(session, PLATE)
    clock.shift(60)
    assert granted_plate(session) is None


def test_revoke_and_tampered_grant(clock, session):
    grant(session, PLATE)
    revoke(session)
    assert granted_plate(session) is None
    session[otp.GRANT_SESSION_KEY] = {"plate": PLATE}
    assert granted_plate(session) is None


# --- logs and housekeeping -------------------------------------------------------------------------


def test_logs_never_contain_phone_plate_or_code(sms, clock, session, caplog):
    caplog.set_level(logging.DEBUG)
    send(session)
    code = sms.last_code
    for _ in range(5):
        check(session, wrong(code))
    clock.shift(60)
    send(session)
    check(session, sms.last_code)
    send(new_session(), plate="京B77777", phone=None)
    text = caplog.text
    assert text  # something was logged
    for secret in (PHONE, "A12345", "B77777", code, sms.last_code, session.session_key):
        assert secret not in text


def test_purge_stale_removes_old_codes_and_counters(sms, clock, session):
    send(session)
    clock.shift(2 * 86400)
    codes, counters = otp.purge_stale()
    assert codes == 1 and counters > 0
    assert not OtpCode.objects.exists() and not ThrottleCounter.objects.exists()


def test_purpose_must_be_a_token(sms, clock, session):
    with pytest.raises(ValueError):
        send(session, purpose="../x")


# --- Redis layer -----------------------------------------------------------------------------------


@pytest.fixture
def real_redis(settings, request):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis at 127.0.0.1:6379 is not reachable")
    prefix = f"test:verification:{request.node.name}:{threading.get_ident()}:{id(request)}:"
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.VERIFICATION_REDIS_PREFIX = prefix
    settings.VERIFICATION_REDIS_IP_LIMITS = {"send": (60, 2), "verify": (60, 3)}
    yield client
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def test_redis_sheds_a_send_flood_before_the_database(sms, clock, real_redis):
    assert send(new_session(), plate="京A00001", phone="13800000001").sent
    assert send(new_session(), plate="京A00002", phone="13800000002").sent
    before = ThrottleCounter.objects.count()
    refused = send(new_session(), plate="京A00003", phone="13800000003")
    assert not refused.sent and refused.code == "network_busy"
    assert 0 < refused.retry_after_seconds <= 60
    assert ThrottleCounter.objects.count() == before  # refused without touching the database
    assert send(new_session(), plate="京A00003", phone="13800000003", ip="10.7.7.7").sent
    keys = list(real_redis.scan_iter(match=f"{otp._setting('VERIFICATION_REDIS_PREFIX', '')}*"))
    assert keys and all(real_redis.ttl(k) > 0 for k in keys)


def test_redis_sheds_a_verify_flood(sms, clock, real_redis, session):
    send(session)
    code = sms.last_code
    for _ in range(3):
        check(session, wrong(code))
    assert check(session, code).code == "throttled"
    assert OtpCode.objects.get().attempts == 3


def test_database_still_decides_when_redis_is_down(sms, clock, settings, session):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert send(session).sent
    assert not send(session).sent  # the database's 60 s rule
    assert check(session, sms.last_code).ok


# --- concurrency (PostgreSQL) ----------------------------------------------------------------------


def _parallel(n, fn):
    barrier = threading.Barrier(n)
    results = []
    errors = []

    def run():
        try:
            barrier.wait()
            results.append(fn())
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_verifies_of_one_code_only_one_succeeds(sms):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    session = new_session()
    send(session)
    code = sms.last_code
    results = _parallel(8, lambda: check(session.session_key, code))
    assert sum(r.ok for r in results) == 1
    assert OtpCode.objects.get().used_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_sends_to_one_phone_only_one_goes_out(sms):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    sessions = [new_session().session_key for _ in range(8)]
    keys = iter(sessions)
    lock = threading.Lock()

    def one():
        with lock:
            key = next(keys)
        return send(key)

    results = _parallel(8, one)
    assert sum(r.sent for r in results) == 1
    assert len(sms.calls) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_entries_are_all_counted(sms):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    session = new_session()
    send(session)
    code = sms.last_code
    results = _parallel(8, lambda: check(session.session_key, wrong(code)))
    assert not any(r.ok for r in results)
    assert OtpCode.objects.get().attempts == 5  # never more than the limit, never lost updates
    assert check(session, code).code == "too_many_attempts"


# --- with the real SMS service ---------------------------------------------------------------------


def test_real_sms_outbox_gets_the_code_and_it_verifies(clock, session, django_capture_on_commit_callbacks):
    services = pytest.importorskip("campuspass.sms.services")
    from campuspass.sms.models import OutboxMessage

    with django_capture_on_commit_callbacks(execute=True):
        result = send(session)
    assert result.sent
    message = OutboxMessage.objects.get()
    assert message.template == "otp" and message.phone == PHONE
    assert message.related == f"otp:{OtpCode.objects.get().pk}"
    assert services is not None
    from campuspass.sms.backends import locmem

    sent = locmem.outbox[-1] if locmem.outbox else None
    assert sent is not None and sent.phone == PHONE
    assert "******" in message.text  # the code does not stay in the outbox once sent
    assert check(session, sent.params["code"]).ok


def test_purge_task_runs(sms, clock, session):
    from campuspass.verification.tasks import purge_verification_state

    send(session)
    clock.shift(2 * 86400)
    result = purge_verification_state.enqueue()
    assert result.return_value > 0
    assert not OtpCode.objects.exists()


def test_a_second_car_of_a_throttled_owner_looks_like_an_unknown_plate(sms, clock):
    """Two cars on one phone: asking for the second right after the first must not say "too
    frequent" (an unknown plate never does), which would reveal the plate and its owner."""
    send(new_session(), plate="京A12345", phone=PHONE)
    second = send(new_session(), plate="京C24680", phone=PHONE)
    unknown = send(new_session(), plate="京D13579", phone=None)
    assert (second.sent, second.retry_after_seconds, second.message, second.code) == (
        unknown.sent,
        unknown.retry_after_seconds,
        unknown.message,
        unknown.code,
    )
    assert len(sms.calls) == 1  # nothing more went to the owner's phone
    assert OtpCode.objects.filter(plate="京C24680", code_hash="").count() == 1


def test_the_same_plate_too_soon_is_still_refused_visibly(sms, clock, session):
    first = send(session, plate="京A12345", phone=PHONE)
    again = send(session, plate="京A12345", phone=PHONE)
    assert first.sent and not again.sent and again.code == "throttled"
    assert len(sms.calls) == 1
    # the first code still works: the refused request invalidated nothing
    assert check(session, sms.last_code).ok

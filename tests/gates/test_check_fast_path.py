"""The gate check's fast path (campuspass/gates/fastpath.py, decision 0039 addendum 2): it answers
`GET /api/gate/v1/check` exactly as the whole middleware stack and the ninja view do (status, JSON
bytes, the headers that say how to treat the answer), runs none of the later middleware, and leaves
every other request to the whole stack."""

import datetime as dt
import time

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError

from campuspass.core import metrics
from campuspass.gates import keys, services
from campuspass.gates.models import GateGroup, GateNonce

pytestmark = pytest.mark.django_db
PATH = "/api/gate/v1/check"
FAST = "campuspass.gates.fastpath.GateCheckMiddleware"
SAME_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Cache-Control",
    "X-Frame-Options",
    "Permissions-Policy",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
)


@pytest.fixture
def stacks(settings):
    """(fast, full): a client with the fast path, and one with the settings' stack without it."""
    assert FAST in settings.MIDDLEWARE
    fast = Client()
    fast.handler.load_middleware()
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != FAST]
    full = Client()
    full.handler.load_middleware()
    return fast, full


@pytest.fixture(autouse=True)
def later(monkeypatch):
    """The paths of the requests that reached the middleware below the fast path (sessions stand for
    all of it)."""
    reached = later_paths
    reached.clear()
    original = SessionMiddleware.process_request

    def record(self, request):
        reached.append(request.path)
        return original(self, request)

    monkeypatch.setattr(SessionMiddleware, "process_request", record)
    return reached


def signed(device, params, **kwargs):
    gate, key_id, secret = device
    return keys.signed_headers(key_id, secret, "GET", PATH, params, **kwargs)


def policy(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


def assert_same(fast, full):
    assert (fast.status_code, fast.content) == (full.status_code, full.content)
    for name in SAME_HEADERS:
        assert fast.get(name) == full.get(name), name
    assert policy(fast) == policy(full)
    assert fast.has_header("Expires") and full.has_header("Expires")
    assert not fast.cookies and not full.cookies
    # Only the negotiation headers of the locale and session middleware are left out.
    assert set(fast.headers) <= set(full.headers)
    assert set(full.headers) - set(fast.headers) <= {"Vary", "Content-Language"}


def both(stacks, device, params, *, headers=None, fast_path=True, **kwargs):
    """The same request to both stacks, each with its own fresh nonce unless headers are given; the
    fast client's request reaches the later middleware only when it is not for the fast path."""
    answers = []
    for client in stacks:
        sent = headers if headers is not None else signed(device, params, **kwargs)
        reached = len(later_paths)
        answers.append(client.get(PATH, params, headers=sent))
        ran = len(later_paths) > reached
        assert ran is (client is stacks[1] or not fast_path), "fast path" if client is stacks[0] else "full"
    return answers


later_paths: list = []


@pytest.mark.parametrize(
    ("setup", "params", "expected"),
    [
        ("permit", {"plate": "京A12345"}, (200, "ok")),
        ("permit", {"plate": "京a·12345", "colour": "blue"}, (200, "ok")),
        ("permit", {"plate": "京A12345", "colour": "yellow"}, (200, "unknown_plate")),
        ("expired", {"plate": "京A12345"}, (200, "expired")),
        ("suspended", {"plate": "京A12345"}, (200, "suspended")),
        ("denied", {"plate": "京A12345"}, (200, "denied")),
        ("denied", {"plate": "京B54321"}, (200, "denied")),  # no vehicle: the deny list read
        ("other_group", {"plate": "京A12345"}, (200, "out_of_scope")),
        ("permit", {"plate": "京O12345"}, (400, "plate")),
        ("permit", {"plate": ""}, (400, "plate")),
        ("permit", {"plate": "京A12345", "colour": "purple"}, (400, "colour")),
        ("several", {"plate": "京A12345"}, (200, "ok")),  # expired, current and upcoming passes
        ("upcoming", {"plate": "京A12345"}, (200, "not_yet_valid")),
        ("nothing", {"plate": "京A12345"}, (200, "unknown_plate")),
    ],
)
def test_answers_as_the_whole_stack_does(stacks, device, make_permit, today, setup, params, expected):
    if setup in ("expired", "several"):
        make_permit(
            valid_from=today - dt.timedelta(days=400), valid_to=today - dt.timedelta(days=1), year=2001
        )
    if setup in ("upcoming", "several"):
        make_permit(
            valid_from=today + dt.timedelta(days=10), valid_to=today + dt.timedelta(days=400), year=2099
        )
    if setup not in ("expired", "upcoming", "nothing"):
        permit = make_permit()
    if setup == "suspended":
        services.suspend_pass(plate="京A12345", reason="违规停车", acting_user=None)
    elif setup == "denied":
        services.deny_plate(plate="京A12345", reason="多次闯杆", acting_user=None)
        services.deny_plate(plate="京B54321", reason="多次闯杆", acting_user=None)
    elif setup == "other_group":
        GateGroup.objects.create(code="west", name="西门")
        services.set_pass_groups(permit=permit, codes=["west"], acting_user=None)
    fast, full = both(stacks, device, params)
    assert_same(fast, full)
    body = fast.json()
    assert (fast.status_code, body.get("reason_code", body.get("code"))) == expected
    if expected == (200, "ok"):
        assert body == {"allowed": True, "valid_until": permit.valid_to.isoformat(), "reason_code": "ok"}


@pytest.mark.parametrize("registered", [True, False])
def test_a_plain_check_is_one_database_statement(stacks, device, make_permit, registered, settings):
    """The gate row, the plate's passes and the deny list in one round trip (compiled.rows_together);
    the heartbeat's UPDATE only once a minute; the nonce in the shared cache (Redis in production)."""
    settings.GATE_NONCE_STORE = "cache"
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if registered:
        make_permit()
    fast, _ = stacks
    params = {"plate": "京A12345"}
    assert fast.get(PATH, params, headers=signed(device, params)).status_code == 200  # the heartbeat
    with CaptureQueriesContext(connection) as queries:
        answer = fast.get(PATH, params, headers=signed(device, params))
    assert answer.json()["reason_code"] == ("ok" if registered else "unknown_plate")
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]


def test_a_bad_plate_is_told_only_to_a_signed_request(stacks, device):
    fast, full = both(stacks, device, {"plate": "京O12345"}, headers={})
    assert_same(fast, full)
    assert (fast.status_code, fast.json()["code"]) == (401, "missing_headers")
    params = {"plate": "京O12345"}
    wrong = keys.signed_headers(device[1], "not-the-secret", "GET", PATH, params)
    fast, full = both(stacks, device, params, headers=wrong)
    assert_same(fast, full)
    assert (fast.status_code, fast.json()["code"]) == (401, "signature")


def test_refusals_are_the_same_json_with_the_same_status(stacks, device):
    gate, key_id, secret = device
    params = {"plate": "京A12345"}
    cases = {
        "missing_headers": {},
        "signature": keys.signed_headers(key_id, "not-the-secret", "GET", PATH, params),
        "unknown_key": keys.signed_headers("gk_doesnotexist", secret, "GET", PATH, params),
        "nonce_format": {**signed(device, params), "X-Gate-Nonce": "short"},
    }
    for code, headers in cases.items():
        fast, full = both(stacks, device, params, headers=headers)
        assert_same(fast, full)
        assert (fast.status_code, fast.json()["code"]) == (401, code)
    fast, full = both(stacks, device, params, now=time.time() - 301)
    assert_same(fast, full)
    assert fast.json()["code"] == "timestamp"
    assert "缺少签名头" in stacks[0].get(PATH, params).json()["message"]


def test_a_replayed_nonce_is_refused_on_either_stack(stacks, device, later):
    fast, full = stacks
    params = {"plate": "京A12345"}
    headers = signed(device, params)
    assert fast.get(PATH, params, headers=headers).status_code == 200
    replay_fast = fast.get(PATH, params, headers=headers)
    replay_full = full.get(PATH, params, headers=headers)  # the same store: another worker refuses it too
    assert_same(replay_fast, replay_full)
    assert (replay_fast.status_code, replay_fast.json()["code"]) == (401, "replay")
    assert later == [PATH]  # the full stack's request only


def test_a_revoked_key_or_disabled_gate_stops_at_the_next_request(stacks, device, later):
    fast, _ = stacks
    gate, key_id, secret = device
    params = {"plate": "京A12345"}
    assert fast.get(PATH, params, headers=signed(device, params)).status_code == 200
    services.revoke_key(gate=gate, reason="设备丢失", acting_user=None)
    answer = fast.get(PATH, params, headers=signed(device, params))
    assert (answer.status_code, answer.json()["code"]) == (401, "key_revoked")
    assert later == []
    secret = services.issue_key(gate=gate, acting_user=None)
    gate.refresh_from_db()
    device = (gate, gate.key_id, secret)
    assert fast.get(PATH, params, headers=signed(device, params)).status_code == 200
    type(gate).objects.filter(pk=gate.pk).update(enabled=False)  # a bulk write sends no signal
    answer = fast.get(PATH, params, headers=signed(device, params))
    assert (answer.status_code, answer.json()["code"]) == (401, "key_revoked")


def test_an_unreachable_redis_is_a_503_on_both_stacks(stacks, device, settings, monkeypatch):
    settings.GATE_NONCE_STORE = "cache"

    def down(*args, **kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(keys.cache, "add", down)
    fast, full = both(stacks, device, {"plate": "京A12345"})
    assert_same(fast, full)
    assert (fast.status_code, fast.json()["code"]) == (503, "unavailable")
    assert not GateNonce.objects.exists()


def test_no_session_no_cookie_even_when_one_is_sent(stacks, device, later):
    fast, _ = stacks
    fast.cookies["sessionid"] = "x" * 32
    fast.cookies["csrftoken"] = "y" * 32
    params = {"plate": "京A12345"}
    answer = fast.get(PATH, params, headers=signed(device, params))
    assert answer.status_code == 200
    assert not answer.cookies and "Cookie" not in answer.get("Vary", "")
    assert later == []


def test_request_id_and_latency_metric_as_before(stacks, device, later):
    fast, _ = stacks
    params = {"plate": "京A12345"}
    labels = {"method": "GET", "view": "gate-api:check", "status": "2xx"}
    before = _samples(labels)
    headers = {**signed(device, params), "X-Request-ID": "gate-request-0001"}
    answer = fast.get(PATH, params, headers=headers)
    assert answer.status_code == 200 and answer["X-Request-ID"] == "gate-request-0001"
    assert _samples(labels) == before + 1
    assert later == []


def _samples(labels) -> float:
    for family in metrics.REQUEST_LATENCY.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0


def test_a_host_not_allowed_is_a_400_and_spends_no_nonce(stacks, device, settings):
    settings.GATE_NONCE_STORE = "database"
    fast, full = stacks
    params = {"plate": "京A12345"}
    headers = signed(device, params)
    for client in (fast, full):
        assert client.get(PATH, params, headers=headers, HTTP_HOST="evil.example").status_code == 400
    assert not GateNonce.objects.exists()
    assert fast.get(PATH, params, headers=headers).status_code == 200  # the nonce is still unused


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 422),  # ninja's validation answer
        ({"plate": "京A12345", "extra": "1"}, 200),
        ({"plate": ["京A12345", "京B54321"]}, None),
        ({"plate": "京A\x0012345"}, 400),  # ControlCharacterMiddleware's page
    ],
)
def test_anything_but_a_plain_check_goes_down_the_whole_stack(stacks, device, params, status):
    """Decided before any side effect; the whole stack's answer is the one given."""
    fast_answer, full_answer = both(stacks, device, params, fast_path=False)
    assert (fast_answer.status_code, fast_answer.content) == (full_answer.status_code, full_answer.content)
    if status is not None:
        assert fast_answer.status_code == status


def test_other_paths_and_methods_are_untouched(stacks, device, later):
    fast, _ = stacks
    gate, key_id, secret = device
    heartbeat = "/api/gate/v1/heartbeat"
    headers = keys.signed_headers(key_id, secret, "GET", heartbeat, {})
    assert fast.get(heartbeat, headers=headers).status_code == 200
    assert fast.post(PATH, {"plate": "京A12345"}).status_code in {401, 403, 405}
    assert fast.get(PATH + "/", {"plate": "京A12345"}).status_code in {301, 404}
    assert fast.get("/api/gate/v1/openapi.json").status_code == 200
    assert later == [heartbeat, PATH, PATH + "/", "/api/gate/v1/openapi.json"]


def test_a_urlconf_without_the_gate_api_leaves_every_request_to_the_stack(settings, rf):
    """Some sites and tests serve a URLconf without the gate API: the middleware then answers
    nothing itself (it used to fail to load: 'gate-api' is not a registered namespace)."""
    from django.http import HttpResponse
    from django.urls import clear_url_caches

    from campuspass.gates.fastpath import GateCheckMiddleware

    settings.ROOT_URLCONF = "campuspass.payments.urls"
    clear_url_caches()
    try:
        middleware = GateCheckMiddleware(lambda request: HttpResponse("stack"))
        response = middleware(rf.get("/api/gate/v1/check", {"plate": "京A12345"}))
    finally:
        clear_url_caches()
    assert middleware.path is None and response.content == b"stack"

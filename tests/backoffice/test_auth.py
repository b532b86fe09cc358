"""Back-office sign-in: roles required, failures throttled and locked (django-axes; audited from the signals),
safe `next`, every sign-in recorded, sign-out by POST, idle sessions expire."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice.roles import REVIEWER
from campuspass.core.models import LogEntry
from campuspass.core.perimeter import IDLE_MESSAGE

PASSWORD = "pw-Test-1234"
LOGIN = "/office/login/"


@pytest.fixture
def reviewer(make_user):
    return make_user(REVIEWER, "reviewer")


def sign_in(client, username, password=PASSWORD, ip="10.0.0.1", **extra):
    return client.post(
        reverse("backoffice:login"), {"username": username, "password": password, **extra}, REMOTE_ADDR=ip
    )


def test_sign_in_page_is_chinese(client, db):
    body = client.get(reverse("backoffice:login")).content.decode()
    assert "用户名" in body and "密码" in body and "登录" in body


def test_user_with_a_role_signs_in_and_it_is_recorded(client, reviewer):
    client.get(reverse("backoffice:login"))
    before = client.cookies.get("sessionid")
    response = sign_in(client, "reviewer")
    assert response.status_code == 302 and response["Location"] == reverse("backoffice:dashboard")
    assert client.session["_auth_user_id"] == str(reviewer.pk)
    assert before is None or client.cookies["sessionid"].value != before.value
    entry = LogEntry.objects.get(action="core.signin.succeeded")
    assert entry.actor == reviewer and entry.data == {"username": "reviewer", "ip": "10.0.0.1"}


def test_user_without_a_role_is_told_and_not_signed_in(client, make_user):
    make_user(None, "nobody")
    response = sign_in(client, "nobody")
    assert response.status_code == 403
    assert "没有后台角色" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert LogEntry.objects.get(action="core.signin.failed").data["reason"] == "no_role"


def test_superuser_without_a_group_may_sign_in(client, db):
    User.objects.create_superuser("boss", password=PASSWORD)
    assert sign_in(client, "boss").status_code == 302


def test_inactive_user_is_refused(client, reviewer):
    reviewer.is_active = False
    reviewer.save()
    response = sign_in(client, "reviewer")
    assert response.status_code == 200 and "用户名或密码错误" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_password_is_recorded_with_username_and_ip(client, reviewer):
    response = sign_in(client, "reviewer", "wrong", ip="10.9.9.9")
    assert "用户名或密码错误" in response.content.decode()
    entry = LogEntry.objects.get(action="core.signin.failed")
    assert entry.data == {"username": "reviewer", "ip": "10.9.9.9", "reason": "bad_credentials"}
    assert entry.actor is None


def test_five_failures_lock_the_username_for_fifteen_minutes(client, reviewer):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(4):
            assert sign_in(client, "reviewer", "wrong").status_code == 200
            traveller.shift(dt.timedelta(minutes=1))
        fifth = sign_in(client, "reviewer", "wrong")
        assert fifth.status_code == 429
        assert "请 15 分钟后再试" in fifth.content.decode()
        assert LogEntry.objects.filter(action="core.signin.locked", data__scope="username").count() == 1

        traveller.shift(dt.timedelta(minutes=10))
        refused = sign_in(client, "reviewer")  # the right password, but locked
        assert refused.status_code == 429
        assert "请 5 分钟后再试" in refused.content.decode()
        assert "_auth_user_id" not in client.session
        # another spelling of the same name is the same account
        assert sign_in(client, "REVIEWER").status_code == 429

        traveller.shift(dt.timedelta(minutes=5, seconds=1))
        assert sign_in(client, "reviewer").status_code == 302
        assert client.session["_auth_user_id"] == str(reviewer.pk)


def test_failures_further_apart_than_the_lock_time_do_not_lock(client, reviewer):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(8):
            assert sign_in(client, "reviewer", "wrong").status_code == 200
            traveller.shift(dt.timedelta(minutes=16))
    assert not LogEntry.objects.filter(action="core.signin.locked").exists()


def test_a_success_starts_the_count_afresh(client, reviewer):
    for _ in range(4):
        sign_in(client, "reviewer", "wrong")
    assert sign_in(client, "reviewer").status_code == 302
    client.logout()
    for _ in range(4):
        assert sign_in(client, "reviewer", "wrong").status_code == 200
    assert not LogEntry.objects.filter(action="core.signin.locked").exists()


def test_one_address_guessing_many_usernames_is_locked(client, reviewer):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for n in range(20):
            response = sign_in(client, f"guess{n}", "wrong", ip="10.6.6.6")
            traveller.shift(dt.timedelta(seconds=5))
        assert response.status_code == 429
        assert "您所在的电脑" in response.content.decode()
        # the right password of a real account from that address is refused too …
        assert sign_in(client, "reviewer", ip="10.6.6.6").status_code == 429
        # … but not from another address
        assert sign_in(client, "reviewer", ip="10.7.7.7").status_code == 302


@pytest.mark.parametrize(
    "next_url,expected",
    [
        ("/office/review/", "/office/review/"),
        ("https://evil.example.com/office/", "/office/"),
        ("//evil.example.com/", "/office/"),
        ("javascript:alert(1)", "/office/"),
    ],
)
def test_next_is_followed_only_when_it_is_on_this_site(client, reviewer, next_url, expected):
    response = sign_in(client, "reviewer", next=next_url)
    assert response.status_code == 302 and response["Location"] == expected


def test_logout_needs_post(client, reviewer):
    client.force_login(reviewer)
    assert client.get(reverse("backoffice:logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("backoffice:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("backoffice:login")
    assert "_auth_user_id" not in client.session


def test_idle_session_is_signed_out_with_a_message(client, reviewer, settings):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        sign_in(client, "reviewer")
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("backoffice:dashboard")).status_code == 200  # activity resets the clock
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("backoffice:dashboard")).status_code == 200
        traveller.shift(dt.timedelta(minutes=31))
        response = client.get(reverse("backoffice:review"))
        assert response.status_code == 302
        assert response["Location"].startswith(f"{LOGIN}?next=/office/review/")
        assert "_auth_user_id" not in client.session
        page = client.get(response["Location"])
        assert IDLE_MESSAGE in page.content.decode()
    assert LogEntry.objects.filter(action="core.signout.idle", actor=reviewer).exists()


def test_idle_limit_is_configurable_and_htmx_gets_a_redirect_header(client, reviewer, settings):
    settings.BACKOFFICE_IDLE_SECONDS = 60
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        sign_in(client, "reviewer")
        traveller.shift(dt.timedelta(seconds=61))
        response = client.get(reverse("backoffice:dashboard"), HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == reverse("backoffice:login")
    assert "_auth_user_id" not in client.session

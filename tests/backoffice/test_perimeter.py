"""One sign-in perimeter for every door (/office/ and /admin/): the admin has no sign-in of its own,
lockout counts every authenticate() wherever it comes from, idle sign-out covers the admin, a
password chosen by someone else is changed first, and 管理员/财务 pass a TOTP step."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from campuspass.backoffice.roles import ADMIN, COUNTER, FINANCE, REVIEWER
from campuspass.backoffice.users import user_create, user_reset_password
from campuspass.core.models import LogEntry, PasswordState
from tests.conftest import pass_second_factor

PASSWORD = "pw-Test-1234"
NEW_PASSWORD = "Quiet-Harbour-2026"


def sign_in(client, username, password=PASSWORD, ip="10.0.0.1", **extra):
    return client.post(
        reverse("backoffice:login"), {"username": username, "password": password, **extra}, REMOTE_ADDR=ip
    )


def code_for(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


@pytest.fixture
def admin(make_user):
    user = make_user(ADMIN, "chief")
    user.is_staff = True
    user.save()
    return user


# --- the admin's door is the office's door ---------------------------------------------------------


def test_admin_login_page_sends_to_the_one_sign_in(client, db):
    response = client.get("/admin/login/?next=/admin/renewals/campaign/")
    assert response.status_code == 302
    assert response["Location"] == "/office/login/?next=%2Fadmin%2Frenewals%2Fcampaign%2F"


def test_a_password_posted_to_the_admin_login_signs_nobody_in(client, admin):
    response = client.post("/admin/login/", {"username": "chief", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/office/login/")
    assert "_auth_user_id" not in client.session


def test_locked_at_the_office_means_locked_at_every_door(client, admin, rf):
    for _ in range(5):
        sign_in(client, "chief", "wrong")
    assert sign_in(client, "chief").status_code == 429
    # any other door calling authenticate() (the admin, a future API) is refused by the same lock
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.0.0.2")
    assert authenticate(request, username="chief", password=PASSWORD) is None
    assert LogEntry.objects.filter(action="core.signin.failed", data__reason="locked").count() == 2


def test_failures_at_another_door_count_towards_the_lock(client, admin):
    for _ in range(5):
        request = RequestFactory().post("/elsewhere/", REMOTE_ADDR="10.0.0.3")
        assert authenticate(request, username="chief", password="wrong") is None
    assert LogEntry.objects.filter(action="core.signin.locked", data__scope="username").count() == 1
    assert sign_in(client, "chief").status_code == 429


def test_a_nul_byte_in_the_username_is_answered_in_chinese(client, db):
    response = sign_in(client, "adm\x00in", "x")
    assert response.status_code == 400
    assert "控制字符" in response.content.decode()


# --- idle sign-out on every door -----------------------------------------------------------------------


def test_idle_sign_out_covers_the_admin(client, admin):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.force_login(admin)
        pass_second_factor(client, admin)
        assert client.get("/admin/").status_code == 200
        traveller.shift(dt.timedelta(minutes=31))
        response = client.get("/admin/renewals/campaign/")
    assert response.status_code == 302 and response["Location"].startswith("/office/login/")
    assert "_auth_user_id" not in client.session
    assert LogEntry.objects.filter(action="core.signout.idle", actor=admin).exists()


# --- a password chosen by someone else ------------------------------------------------------------------


def test_a_user_created_by_an_administrator_changes_the_password_first(client, admin):
    user, password = user_create(username="wang", full_name="王五", roles=[REVIEWER], acting_user=admin)
    assert sign_in(client, "wang", password).status_code == 302
    for url in ("/office/", "/office/review/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/office/password/"), url
    page = client.get("/office/password/").content.decode()
    assert "请先设置只有您自己知道的新密码" in page
    bad = client.post(
        "/office/password/", {"old_password": password, "new_password1": "123", "new_password2": "123"}
    )
    assert bad.status_code == 400 and "密码" in bad.content.decode()
    assert PasswordState.objects.get(user=user).must_change
    ok = client.post(
        "/office/password/",
        {"old_password": password, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert ok.status_code == 302
    assert client.get("/office/").status_code == 200  # still signed in, the session follows the new hash
    assert not PasswordState.objects.get(user=user).must_change
    assert LogEntry.objects.filter(action="core.password.changed", actor=user).exists()


def test_a_password_reset_by_an_administrator_is_changed_at_the_next_sign_in(client, admin, make_user):
    user = make_user(COUNTER, "li")
    password = user_reset_password(user=user, acting_user=admin)
    sign_in(client, "li", password)
    assert client.get("/office/counter/")["Location"].startswith("/office/password/")


def test_the_demo_users_change_their_password_at_first_sign_in(db, tmp_path, settings):
    from campuspass.demo import loader as demo

    settings.VAR_DIR = tmp_path
    demo.ensure_users()
    assert PasswordState.objects.filter(must_change=True).count() == len(demo.DEMO_USERS)


# --- the second factor ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [FINANCE, ADMIN])
def test_finance_and_administrators_enrol_and_then_give_a_totp_code(client, make_user, role):
    make_user(role, "moneyperson")
    assert sign_in(client, "moneyperson").status_code == 302
    response = client.get("/office/refunds/")
    assert response.status_code == 302 and response["Location"].startswith("/office/otp/")
    page = client.get("/office/otp/").content.decode()
    assert "设置身份验证器" in page and 'id="otp-secret"' in page
    device = TOTPDevice.objects.get(user__username="moneyperson", confirmed=False)

    wrong = client.post("/office/otp/", {"otp_token": "000000" if code_for(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and "动态码不正确" in wrong.content.decode()
    device.throttle_reset()
    not_digits = client.post("/office/otp/", {"otp_token": "１２３４５６"})
    assert "6 位数字" in not_digits.content.decode()
    ok = client.post("/office/otp/", {"otp_token": code_for(device)})
    assert ok.status_code == 302
    assert client.get("/office/refunds/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert LogEntry.objects.filter(action="core.otp.enrolled").count() == 1

    # the next sign-in asks for the code of the enrolled device (no new secret shown)
    client.post("/office/logout/")
    sign_in(client, "moneyperson")
    page = client.get("/office/otp/").content.decode()
    assert "输入动态码" in page and "otp-secret" not in page


def test_reviewers_need_no_second_factor(client, make_user):
    make_user(REVIEWER, "plain")
    sign_in(client, "plain")
    assert client.get("/office/review/").status_code == 200


def test_a_superuser_reaches_the_admin_only_after_the_totp_step(client, db):
    boss = User.objects.create_superuser("boss", password=PASSWORD)
    sign_in(client, "boss", next="/admin/")
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/office/otp/")
    pass_second_factor(client, boss)
    assert client.get("/admin/").status_code == 200


def test_wrong_codes_are_throttled(client, make_user):
    make_user(FINANCE, "fin")
    sign_in(client, "fin")
    client.get("/office/otp/")
    device = TOTPDevice.objects.get(user__username="fin")
    wrong = "000000" if code_for(device) != "000000" else "111111"
    client.post("/office/otp/", {"otp_token": wrong})
    again = client.post("/office/otp/", {"otp_token": code_for(device)})  # too soon after a failure
    assert again.status_code == 400 and "次数过多" in again.content.decode()


# --- the role matrix, extended to the admin -------------------------------------------------------------


def _admin_urls():
    from django.contrib import admin as django_admin

    urls = ["/admin/"]
    for model in django_admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    return urls


@pytest.mark.parametrize("role", [REVIEWER, COUNTER, "配送", FINANCE, None])
def test_no_role_but_the_administrator_opens_any_admin_page(client, make_user, role):
    user = make_user(role, "someone")
    client.force_login(user)
    pass_second_factor(client, user)
    for url in _admin_urls():
        response = client.get(url)
        assert response.status_code in (302, 403), (url, response.status_code)
        if response.status_code == 302:  # to the admin's sign-in, which refuses a signed-in user
            assert response["Location"].startswith("/admin/login/"), response["Location"]
            assert client.get(response["Location"]).status_code == 403


def test_the_administrator_opens_every_admin_page(client, admin):
    client.force_login(admin)
    pass_second_factor(client, admin)
    admin.is_superuser = True
    admin.save()
    for url in _admin_urls():
        assert client.get(url).status_code == 200, url


def test_accounts_are_read_only_in_the_admin_and_no_totp_secret_is_shown(client, admin, make_user):
    from django.contrib import admin as django_admin

    admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    pass_second_factor(client, admin)
    assert client.get(reverse("admin:auth_user_add")).status_code == 403
    other = make_user(FINANCE, "money")
    response = client.post(reverse("admin:auth_user_change", args=[other.pk]), {"username": "renamed"})
    assert response.status_code == 403
    assert not django_admin.site.is_registered(TOTPDevice)


def test_an_administrator_resets_a_lost_authenticator_and_it_is_audited(office_client, make_user):
    client, chief = office_client(ADMIN)
    other = make_user(FINANCE, "money")
    pass_second_factor(Client(), other)
    assert TOTPDevice.objects.filter(user=other).exists()
    response = client.post(
        reverse("backoffice:settings_user_action", args=[other.pk]), {"action": "reset_otp"}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=other).exists()
    entry = LogEntry.objects.get(action="backoffice.user.second_factor_reset")
    assert entry.actor == chief and entry.data == {"devices": 1}
    # not one's own
    client.post(reverse("backoffice:settings_user_action", args=[chief.pk]), {"action": "reset_otp"})
    assert TOTPDevice.objects.filter(user=chief).exists()


def test_the_enrolment_qr_code_is_an_image_a_browser_draws(client, make_user):
    """The QR code is a standalone SVG in a data: URI: it must carry the SVG namespace, or the browser
    draws nothing (it did not, and the code could only be typed in)."""
    import html
    import re
    import xml.etree.ElementTree as ET
    from urllib.parse import unquote

    make_user(FINANCE, "qrperson")
    sign_in(client, "qrperson")
    page = client.get("/office/otp/").content.decode()
    image = re.search(r'<img src="([^"]+)"[^>]*id="otp-qr"', page)
    uri = html.unescape(image.group(1))
    assert uri.startswith("data:image/svg+xml")
    svg = unquote(uri.partition(",")[2])
    root = ET.fromstring(svg)  # noqa: S314 - the page's own SVG, made by segno
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag

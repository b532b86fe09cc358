"""Settings (administrators only): campaigns, consent versions, reject reasons, holidays, users and
roles — services and screens."""

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from campuspass.backoffice import urls_admin
from campuspass.backoffice.roles import ADMIN, COUNTER, FINANCE, REVIEWER
from campuspass.backoffice.users import user_create, user_reset_password, user_set_active, user_set_roles
from campuspass.core.errors import CampusPassError
from campuspass.core.models import LogEntry
from campuspass.renewals.models import Campaign, ConsentVersion, Holiday, RejectReason
from campuspass.renewals.services.campaigns import (
    campaign_create,
    campaign_update,
    consent_add_version,
    holiday_remove,
    holiday_set,
    parse_price_yuan,
    reject_reason_create,
    reject_reason_move,
    reject_reason_set_active,
    reject_reason_update,
)
from campuspass.renewals.workdays import add_working_days
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(make_user):
    return make_user(ADMIN, "boss")


def campaign_values(**overrides):
    tz = timezone.get_default_timezone()
    values = {
        "year": 2020,
        "previous_year": 2019,
        "product_name": "2020年医学部机动车通行证",
        "price_fen": 15000,
        "window_start": dt.datetime(2020, 6, 12, 8, 0, tzinfo=tz),
        "window_end": dt.datetime(2020, 6, 19, 17, 0, tzinfo=tz),
        "valid_from": dt.date(2020, 7, 1),
        "valid_to": dt.date(2021, 6, 30),
    }
    values.update(overrides)
    return values


# --- price and campaign ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [("150", 15000), ("150.00", 15000), ("150.5", 15050), ("0.01", 1), ("１５０", 15000), ("¥120元", 12000)],
)
def test_price_in_yuan_is_parsed_exactly(text, fen):
    assert parse_price_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "0", "0.00", "-1", "150.505", "1e3", "abc", "150,00"])
def test_bad_prices_are_refused_in_chinese(text):
    with pytest.raises(CampusPassError) as exc:
        parse_price_yuan(text)
    assert "价格" in exc.value.message


def test_campaign_create_and_update_with_a_diff(admin_user):
    campaign = campaign_create(acting_user=admin_user, **campaign_values())
    assert campaign.local_prefixes == "京" and campaign.pickup_delay_working_days == 1
    assert LogEntry.objects.filter(action="renewals.campaign.created", object_id=str(campaign.pk)).exists()
    campaign_update(campaign=campaign, acting_user=admin_user, price_fen=16000, local_prefixes="京， 津")
    campaign.refresh_from_db()
    assert (campaign.price_fen, campaign.local_prefixes) == (16000, "京,津")
    entry = LogEntry.objects.get(action="renewals.campaign.updated")
    assert entry.data["changes"]["price_fen"] == [15000, 16000]
    assert entry.actor == admin_user
    campaign_update(campaign=campaign, acting_user=admin_user, price_fen=16000)  # no change: no entry
    assert LogEntry.objects.filter(action="renewals.campaign.updated").count() == 1


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"previous_year": 2020}, "years"),
        ({"previous_year": 2021}, "years"),
        (
            {"window_end": dt.datetime(2020, 6, 1, tzinfo=timezone.get_default_timezone())},
            "window",
        ),
        ({"valid_to": dt.date(2020, 6, 30)}, "validity"),
        ({"price_fen": 0}, "price"),
        ({"local_prefixes": "X"}, "prefixes"),
        ({"pass_number_prefix": "YX-B"}, "pass_prefix"),
        ({"unpaid_timeout_minutes": 0}, "range"),
    ],
)
def test_campaign_validation(admin_user, overrides, code):
    with pytest.raises(CampusPassError) as exc:
        campaign_create(acting_user=admin_user, **campaign_values(**overrides))
    assert exc.value.code == code
    assert not Campaign.objects.exists()


def test_a_year_has_one_campaign(admin_user):
    campaign_create(acting_user=admin_user, **campaign_values())
    with pytest.raises(CampusPassError) as exc:
        campaign_create(acting_user=admin_user, **campaign_values())
    assert exc.value.code == "duplicate"


def test_update_checks_the_result_against_stored_values(admin_user):
    campaign = campaign_create(acting_user=admin_user, **campaign_values())
    with pytest.raises(CampusPassError) as exc:
        campaign_update(campaign=campaign, acting_user=admin_user, valid_from=dt.date(2022, 1, 1))
    assert exc.value.code == "validity"


# --- consent versions ----------------------------------------------------------------------------------


def test_consent_versions_are_added_never_edited(admin_user):
    campaign = make_campaign()  # has version 1
    first = campaign.current_consent()
    v2 = consent_add_version(
        campaign=campaign, text="第二版：本人承诺信息真实有效，并同意审核规则。", acting_user=admin_user
    )
    assert v2.version == 2
    assert v2.sha256 == ConsentVersion.hash_text(v2.text)
    first.refresh_from_db()
    assert first.text == "本人承诺所提交信息真实有效。"
    assert campaign.current_consent().pk == v2.pk
    with pytest.raises(CampusPassError) as exc:
        consent_add_version(campaign=campaign, text=v2.text, acting_user=admin_user)
    assert exc.value.code == "consent_same"
    assert LogEntry.objects.filter(action="renewals.consent.version_added").count() == 1


def test_consent_version_numbering_locks_the_campaign_row(admin_user, monkeypatch):
    campaign = make_campaign()
    calls = []
    original = Campaign.objects.select_for_update

    def spy(*args, **kwargs):
        calls.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(Campaign.objects, "select_for_update", spy)
    consent_add_version(campaign=campaign, text="第二版知情同意书正文内容。", acting_user=admin_user)
    assert calls


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_consent_versions_are_numbered_under_a_lock(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    admin = make_user(ADMIN, "boss2")
    campaign = make_campaign()
    errors = []

    def add(n):
        try:
            consent_add_version(campaign=campaign, text=f"并发第{n}版知情同意书正文内容。", acting_user=admin)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(campaign.consent_versions.values_list("version", flat=True)) == [1, 2, 3, 4, 5]


def test_consent_numbering_follows_the_highest_version(admin_user):
    campaign = make_campaign()
    ConsentVersion.objects.create(
        campaign=campaign, version=7, text="t" * 12, sha256=ConsentVersion.hash_text("t" * 12)
    )
    assert (
        consent_add_version(campaign=campaign, text="新的一版正文内容在此。", acting_user=admin_user).version
        == 8
    )


# --- reject reasons and holidays ---------------------------------------------------------------------


def test_reject_reasons_add_edit_deactivate_reorder(admin_user):
    RejectReason.objects.all().delete()  # the seeded list
    a = reject_reason_create(text="照片不清晰", acting_user=admin_user)
    b = reject_reason_create(text="非本人工作证", acting_user=admin_user)
    c = reject_reason_create(text="人员状态不符", acting_user=admin_user)
    with pytest.raises(CampusPassError):
        reject_reason_create(text=" 照片不清晰 ", acting_user=admin_user)
    reject_reason_update(reason=a, text="照片模糊，无法辨认", acting_user=admin_user)
    reject_reason_set_active(reason=b, active=False, acting_user=admin_user)
    reject_reason_move(reason=c, direction="up", acting_user=admin_user)
    assert list(RejectReason.objects.values_list("text", flat=True)) == [
        "照片模糊，无法辨认",
        "人员状态不符",
        "非本人工作证",
    ]
    assert list(RejectReason.objects.filter(active=True).values_list("text", flat=True)) == [
        "照片模糊，无法辨认",
        "人员状态不符",
    ]
    assert LogEntry.objects.filter(action__startswith="renewals.reject_reason.").count() == 6


def test_holidays_change_the_pickup_day(admin_user):
    friday = dt.date(2031, 6, 13)  # a year chinese-calendar does not know
    assert add_working_days(friday, 1) == dt.date(2031, 6, 16)
    holiday_set(date=dt.date(2031, 6, 16), is_workday=False, name="端午节", acting_user=admin_user)
    assert add_working_days(friday, 1) == dt.date(2031, 6, 17)
    holiday_set(date=dt.date(2031, 6, 14), is_workday=True, name="调休上班", acting_user=admin_user)
    assert add_working_days(friday, 1) == dt.date(2031, 6, 14)
    holiday_remove(holiday=Holiday.objects.get(date=dt.date(2031, 6, 14)), acting_user=admin_user)
    assert add_working_days(friday, 1) == dt.date(2031, 6, 17)
    assert LogEntry.objects.filter(action__startswith="renewals.holiday.").count() == 3


# --- users and roles -----------------------------------------------------------------------------------


def test_user_create_gives_a_password_once(admin_user):
    user, password = user_create(
        username="wang", full_name="王老师", roles=[REVIEWER, COUNTER], acting_user=admin_user
    )
    assert user.check_password(password)
    assert set(user.groups.values_list("name", flat=True)) == {REVIEWER, COUNTER}
    entry = LogEntry.objects.get(action="backoffice.user.created")
    assert password not in str(entry.data)
    with pytest.raises(CampusPassError) as exc:
        user_create(username="WANG", full_name="x", roles=[REVIEWER], acting_user=admin_user)
    assert exc.value.code == "duplicate"
    with pytest.raises(CampusPassError) as exc:
        user_create(username="li", full_name="李", roles=[], acting_user=admin_user)
    assert exc.value.code == "roles"


def test_admin_cannot_demote_or_deactivate_themselves(admin_user, make_user):
    make_user(ADMIN, "other-admin")
    with pytest.raises(CampusPassError) as exc:
        user_set_roles(user=admin_user, roles=[COUNTER], acting_user=admin_user)
    assert exc.value.code == "self_demotion"
    with pytest.raises(CampusPassError) as exc:
        user_set_active(user=admin_user, active=False, acting_user=admin_user)
    assert exc.value.code == "self_deactivate"
    admin_user.refresh_from_db()
    assert admin_user.is_active and admin_user.groups.filter(name=ADMIN).exists()


def test_roles_active_and_password_reset_are_audited(admin_user, make_user):
    clerk = make_user(COUNTER, "clerk")
    user_set_roles(user=clerk, roles=[COUNTER, FINANCE], acting_user=admin_user)
    assert set(clerk.groups.values_list("name", flat=True)) == {COUNTER, FINANCE}
    user_set_active(user=clerk, active=False, acting_user=admin_user)
    clerk.refresh_from_db()
    assert not clerk.is_active
    password = user_reset_password(user=clerk, acting_user=admin_user)
    clerk.refresh_from_db()
    assert clerk.check_password(password)
    actions = set(LogEntry.objects.filter(object_id=str(clerk.pk)).values_list("action", flat=True))
    assert actions == {
        "backoffice.user.roles_changed",
        "backoffice.user.deactivated",
        "backoffice.user.password_reset",
    }


def test_the_last_admin_stays(admin_user, make_user):
    superuser = User.objects.create_superuser("root", password="x")
    with pytest.raises(CampusPassError) as exc:
        user_set_roles(user=admin_user, roles=[COUNTER], acting_user=superuser)
    assert exc.value.code == "last_admin"


# --- screens ---------------------------------------------------------------------------------------------


def test_every_settings_view_is_role_checked():
    for pattern in urls_admin.urlpatterns:
        if pattern.name.startswith("settings"):
            assert pattern.callback.screen == "settings", pattern.name


@pytest.mark.parametrize("role", [REVIEWER, COUNTER, FINANCE])
def test_settings_are_for_administrators_only(office_client, role):
    client, _ = office_client(role)
    assert client.get(reverse("backoffice:settings")).status_code == 403
    assert client.post(reverse("backoffice:settings_users"), {"username": "x"}).status_code == 403


def test_settings_pages_render(office_client):
    campaign = make_campaign()
    client, _ = office_client(ADMIN)
    for name, args in [
        ("settings", []),
        ("settings_campaign_new", []),
        ("settings_campaign", [campaign.pk]),
        ("settings_consent", [campaign.pk]),
        ("settings_reasons", []),
        ("settings_holidays", []),
        ("settings_users", []),
    ]:
        assert client.get(reverse(f"backoffice:{name}", args=args)).status_code == 200, name


def test_campaign_form_errors_are_in_chinese(office_client):
    client, _ = office_client(ADMIN)
    response = client.post(
        reverse("backoffice:settings_campaign_new"),
        {
            "year": "2020",
            "previous_year": "2020",
            "product_name": "",
            "price_yuan": "150.505",
            "window_start": "2020-06-12T08:00",
            "window_end": "not a date",
            "valid_from": "2020-07-01",
            "valid_to": "2021-06-30",
        },
    )
    errors = response.context["form"].errors
    assert errors["product_name"] == ["请填写商品名称。"]
    assert "最多两位小数" in errors["price_yuan"][0]
    assert "线上办理结束格式不正确" in errors["window_end"][0]
    assert not Campaign.objects.exists()


def test_campaign_form_creates_with_price_in_fen_and_local_time(office_client):
    client, _ = office_client(ADMIN)
    response = client.post(
        reverse("backoffice:settings_campaign_new"),
        {
            "year": "2020",
            "previous_year": "2019",
            "product_name": "2020年医学部机动车通行证",
            "price_yuan": "150.5",
            "window_start": "2020-06-12T08:00",
            "window_end": "2020-06-19T17:00",
            "valid_from": "2020-07-01",
            "valid_to": "2021-06-30",
            "local_prefixes": "京",
            "pickup_place": "行政2号楼1层122、123室",
            "pickup_hours": "工作日",
            "contact_phones": "82802290、82805604",
            "pickup_delay_working_days": "1",
            "unpaid_timeout_minutes": "15",
            "photo_retention_days": "30",
            "pass_number_prefix": "YXB",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    campaign = Campaign.objects.get(year=2020)
    assert campaign.price_fen == 15050
    assert timezone.localtime(campaign.window_start).strftime("%Y-%m-%d %H:%M") == "2020-06-12 08:00"
    # previous-year service-side validation shown on the field
    response = client.post(
        reverse("backoffice:settings_campaign", args=[campaign.pk]),
        {**{k: v for k, v in response.wsgi_request.POST.items()}, "previous_year": "2021"},
    )
    assert "必须早于通行证年度" in response.context["form"].errors["previous_year"][0]


def test_created_password_is_shown_once_on_the_screen(office_client):
    client, _ = office_client(ADMIN)
    response = client.post(
        reverse("backoffice:settings_users"), {"username": "zhao", "full_name": "赵老师", "roles": [REVIEWER]}
    )
    assert response.status_code == 200
    password = response.context["created"]["password"]
    assert password in response.content.decode()
    assert User.objects.get(username="zhao").check_password(password)
    assert password not in client.get(reverse("backoffice:settings_users")).content.decode()


def test_self_demotion_is_refused_on_the_screen(office_client):
    client, user = office_client(ADMIN)
    response = client.post(reverse("backoffice:settings_user", args=[user.pk]), {"roles": [COUNTER]})
    assert "不能取消自己的“管理员”角色" in response.context["form"].errors["roles"][0]
    response = client.post(
        reverse("backoffice:settings_user_action", args=[user.pk]), {"action": "deactivate"}, follow=True
    )
    assert "不能停用自己的账号" in response.content.decode()
    user.refresh_from_db()
    assert user.is_active


def test_consent_screen_starts_from_the_current_text(office_client):
    campaign = make_campaign()
    client, _ = office_client(ADMIN)
    url = reverse("backoffice:settings_consent", args=[campaign.pk])
    assert client.get(url).context["form"].initial["text"] == "本人承诺所提交信息真实有效。"
    client.post(url, {"text": "本人承诺所提交信息真实有效，并接受审核。"})
    assert campaign.current_consent().version == 2


def test_pickup_timing_is_a_campaign_setting(office_client):
    """Issue 14 item 13: 制证工作日数 and 当天制证截止时间 in 设置."""
    import datetime as dt

    client, _ = office_client(ADMIN)
    data = {
        "year": "2020",
        "previous_year": "2019",
        "product_name": "2020年医学部机动车通行证",
        "price_yuan": "150",
        "window_start": "2020-06-12T08:00",
        "window_end": "2020-06-19T17:00",
        "valid_from": "2020-07-01",
        "valid_to": "2021-06-30",
        "local_prefixes": "京",
        "pickup_place": "行政2号楼1层122、123室",
        "pickup_hours": "工作日",
        "contact_phones": "82802290",
        "pickup_delay_working_days": "2",
        "print_cutoff": "14:30",
        "unpaid_timeout_minutes": "15",
        "photo_retention_days": "30",
        "pass_number_prefix": "YXB",
    }
    page = client.get(reverse("backoffice:settings_campaign_new")).content.decode()
    assert "当天制证截止时间" in page and "制证工作日数" in page
    assert client.post(reverse("backoffice:settings_campaign_new"), data).status_code == 302
    campaign = Campaign.objects.get(year=2020)
    assert (campaign.pickup_delay_working_days, campaign.print_cutoff) == (2, dt.time(14, 30))

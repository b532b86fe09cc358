"""The admin is no second door: campaigns, consent versions and holidays are shown read-only there
and changed in /office/settings/ through the services (validated, audited)."""

import pytest
from django.urls import reverse

from campuspass.renewals.models import Campaign, ConsentVersion, Holiday
from tests.renewals.factories import make_campaign

pytestmark = pytest.mark.django_db


def test_campaigns_cannot_be_added_or_changed_in_the_admin(admin_client):
    campaign = make_campaign()
    assert admin_client.get(reverse("admin:renewals_campaign_add")).status_code == 403
    change = reverse("admin:renewals_campaign_change", args=[campaign.pk])
    page = admin_client.get(change)
    assert page.status_code == 200  # viewing is allowed
    html = page.content.decode()
    assert 'name="price_fen"' not in html and 'name="consentversion_set-0-version"' not in html
    response = admin_client.post(change, {"year": campaign.year, "price_fen": "1"})
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.price_fen != 1


def test_a_consent_version_cannot_be_typed_in_the_admin(admin_client):
    campaign = make_campaign()
    before = ConsentVersion.objects.count()
    response = admin_client.post(
        reverse("admin:renewals_campaign_change", args=[campaign.pk]),
        {
            "consentversion_set-TOTAL_FORMS": "1",
            "consentversion_set-INITIAL_FORMS": "0",
            "consentversion_set-0-version": "99",
            "consentversion_set-0-text": "typed",
        },
    )
    assert response.status_code == 403 and ConsentVersion.objects.count() == before


def test_holidays_are_read_only_in_the_admin_and_the_list_says_where_to_change_them(admin_client):
    assert admin_client.get(reverse("admin:renewals_holiday_add")).status_code == 403
    page = admin_client.get(reverse("admin:renewals_holiday_changelist")).content.decode()
    assert "/office/settings/holidays/" in page
    assert not Holiday.objects.exists()


def test_campaign_list_points_to_the_settings_screen(admin_client):
    make_campaign()
    page = admin_client.get(reverse("admin:renewals_campaign_changelist")).content.decode()
    assert "/office/settings/" in page and Campaign.objects.count() == 1

"""The demo loader: works without shared/ (a generated registry that imports cleanly), is safe to
run twice, and gives a campaign whose window contains today."""

import pytest
from django.utils import timezone

from campuspass.demo import loader as demo
from campuspass.registry.imports import import_passes
from campuspass.renewals.models import Campaign
from campuspass.renewals.selectors import renewal_eligibility

pytestmark = pytest.mark.django_db


def test_generated_registry_imports_without_rejections(tmp_path):
    path = demo.generate_registry(tmp_path / "r.csv", rows=2000, year=2018, seed=7)
    report = import_passes(path=path, dry_run=True)
    assert report.rejected == []
    assert report.imported == 2000


def test_load_demo_twice_without_shared(tmp_path, settings, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(demo, "find_sample", lambda: None)
    first = demo.load_demo()
    second = demo.load_demo()
    assert first.registry_report["imported"] > 0 and second.registry_report["imported"] == 0
    assert second.registry_report["unchanged"] == first.registry_report["imported"]
    assert first.credentials == second.credentials  # the passwords printed stay valid
    campaign = Campaign.objects.get()
    assert campaign.window_open() and campaign.year == timezone.localdate().year
    assert campaign.current_consent() is not None
    from campuspass.registry.models import Pass

    renewable = [
        p
        for p in Pass.objects.filter(year=campaign.previous_year).select_related("vehicle")[:50]
        if renewal_eligibility(plate=p.vehicle.plate, campaign=campaign).ok
    ]
    assert renewable, "the demo must have plates that can renew online"


def test_load_demo_with_an_empty_registry_prints_the_real_address(tmp_path, settings):
    """Issue 14 (README as a newcomer found it): an empty start, and the port actually served."""
    from io import StringIO

    from django.core.management import call_command

    from campuspass.registry.models import Pass

    settings.VAR_DIR = tmp_path
    settings.SITE_URL = "http://127.0.0.1:8123"
    out = StringIO()
    call_command("load_demo", "--empty-registry", stdout=out)
    assert Pass.objects.count() == 0 and Campaign.objects.get().window_open()
    text = out.getvalue()
    assert "http://127.0.0.1:8123/office/" in text and ":8000" not in text


def test_the_consent_text_names_beijing_plates_not_beijing_people():
    """Issue 14 item 12: the renewal is for 北京号牌 (京字头) vehicles; "京籍" would mean people."""
    from campuspass.demo.loader import CONSENT_TEXT

    assert "京籍" not in CONSENT_TEXT and "北京号牌（京字头）" in CONSENT_TEXT

"""Pass numbers issued by approval (and the on-site desk): consecutive per campaign year, never one
that is taken, and found from the last number issued — not by reading every number of the year,
275,000 of them by the end of a week at the benchmark's size (issue 13)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campuspass.registry.models import Pass
from campuspass.renewals.models import Campaign
from campuspass.renewals.services.orders import _next_pass_number, order_approve

from .factories import make_campaign, make_pass
from .test_order_lifecycle import paid_order

pytestmark = pytest.mark.django_db


def test_approvals_number_the_new_passes_one_after_another(fake_provider):
    campaign = make_campaign()
    first = order_approve(order=paid_order(fake_provider, campaign), acting_user=None)
    second = order_approve(order=paid_order(fake_provider, campaign), acting_user=None)
    prefix = f"{campaign.pass_number_prefix}{campaign.year}"
    assert (first.new_pass.number, second.new_pass.number) == (f"{prefix}00001", f"{prefix}00002")
    assert Campaign.objects.get(pk=campaign.pk).last_pass_number == f"{prefix}00002"


def test_a_number_taken_meanwhile_sends_the_next_above_every_number_and_a_new_prefix_starts_anew(
    fake_provider,
):
    campaign = make_campaign()
    prefix = f"{campaign.pass_number_prefix}{campaign.year}"
    assert _next_pass_number(campaign) == f"{prefix}00001"
    # e.g. this year's passes imported from a file in the meantime, numbered 00002 and 20000
    for number in ("00002", "20000"):
        taken = make_pass(year=campaign.year)
        Pass.objects.filter(pk=taken.pk).update(number=f"{prefix}{number}")
    assert _next_pass_number(campaign) == f"{prefix}20001"  # one read of the year, not 20,000 probes
    assert _next_pass_number(campaign) == f"{prefix}20002"
    campaign.pass_number_prefix = "HD"
    campaign.save()
    make_pass(year=campaign.year)  # a number of the old prefix: not this prefix's
    assert _next_pass_number(campaign) == f"HD{campaign.year}00001"


def test_a_number_reads_one_pass_by_key_not_the_years_numbers(fake_provider):
    campaign = make_campaign()
    _next_pass_number(campaign)  # the campaign remembers what it issued from now on
    with CaptureQueriesContext(connection) as captured:
        number = _next_pass_number(campaign)
    sqls = [q["sql"] for q in captured.captured_queries]
    assert number.endswith("00002")
    assert not any("LIKE" in sql and '"registry_pass"."number"' in sql for sql in sqls), sqls
    # the campaign row locked, one pass looked up by its number, the campaign's number written
    assert len([sql for sql in sqls if not sql.startswith(("SAVEPOINT", "RELEASE"))]) == 3, sqls

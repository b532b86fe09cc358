"""Findings of the review of the staff pages (each failed before its fix)."""

import pytest
from django.test import Client

from campuspass.renewals.models import RenewalOrder
from campuspass.verification.storage import photo_store
from tests.renewals.factories import make_campaign, make_pass

from .conftest import jpeg_upload, unlock

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_photo_uploaded_for_one_plate_does_not_follow_into_another_plates_order(sms_outbox, fake_provider):
    make_campaign()
    make_pass(plate="京A12345")
    make_pass(plate="京B67890")
    client = Client()
    unlock(client, "京A12345", sms_outbox)
    assert client.post("/m/renew/photo/", {"photo": jpeg_upload()}).status_code == 302
    photo_of_a = client.session["ss.photo"]

    unlock(client, "京B67890", sms_outbox)
    # B has no photo yet: the confirmation asks for one instead of using A's.
    assert client.get("/m/renew/confirm/")["Location"] == "/m/renew/photo/"
    assert client.get("/m/renew/photo/view/").status_code == 404
    client.post("/m/renew/confirm/", {"fulfilment": "pickup"})
    assert not RenewalOrder.objects.filter(id_photo__key=photo_of_a).exists()
    assert not photo_store().exists(f"{photo_of_a}.jpg")


def test_unlocking_the_same_plate_again_keeps_the_photo(sms_outbox, fake_provider, settings):
    settings.VERIFICATION_PHONE_SEND_LIMITS = settings.VERIFICATION_PLATE_SEND_LIMITS = ((60, 5),)
    make_campaign()
    make_pass(plate="京A12345")
    client = Client()
    unlock(client, "京A12345", sms_outbox)
    client.post("/m/renew/photo/", {"photo": jpeg_upload()})
    photo = client.session["ss.photo"]
    unlock(client, "京A12345", sms_outbox)
    assert client.session["ss.photo"] == photo
    assert client.get("/m/renew/photo/view/").status_code == 200

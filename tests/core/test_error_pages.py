import pytest
from django.test import Client


@pytest.mark.django_db
def test_pages_for_errors_are_in_chinese(settings):
    settings.DEBUG = False
    response = Client().get("/m/no-such-page/")
    assert response.status_code == 404 and "页面不存在" in response.content.decode()
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/m/lookup/", {"plate": "京A12345"})
    assert response.status_code == 403 and "页面已过期" in response.content.decode()

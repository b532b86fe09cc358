import pytest


@pytest.mark.django_db
def test_landing_page_links_to_what_exists(client):
    page = client.get("/").content.decode()
    for link in ('href="/m/"', 'href="/office/"', 'href="/admin/"', "/admin/registry/pass/import/"):
        assert link in page

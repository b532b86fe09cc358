"""Replay protection of signed gate requests in both stores (decision 0027, addendum): Redis (one
SET NX EX on the shared cache) when REDIS_URL is set, the GateNonce table otherwise."""

import os

import pytest
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError

from campuspass.gates import keys
from campuspass.gates.models import GateNonce

pytestmark = pytest.mark.django_db
PATH = "/api/gate/v1/check"
PARAMS = {"plate": "京A12345"}


def signed(device):
    gate, key_id, secret = device
    return keys.signed_headers(key_id, secret, "GET", PATH, PARAMS)


def test_database_store_refuses_a_replay(client, device, settings):
    settings.GATE_NONCE_STORE = "database"
    headers = signed(device)
    assert client.get(PATH, PARAMS, headers=headers).status_code == 200
    assert GateNonce.objects.filter(key_id=device[1], nonce=headers["X-Gate-Nonce"]).count() == 1
    again = client.get(PATH, PARAMS, headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "replay")


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis store needs REDIS_URL")
def test_redis_store_refuses_a_replay_and_writes_no_row(client, device, settings):
    settings.GATE_NONCE_STORE = "cache"
    headers = signed(device)
    assert client.get(PATH, PARAMS, headers=headers).status_code == 200
    key = f"gate-nonce:{device[1]}:{headers['X-Gate-Nonce']}"
    assert cache.get(key) == 1
    assert 0 < cache._cache.get_client(key).ttl(cache.make_key(key)) <= 2 * keys.WINDOW_SECONDS
    again = client.get(PATH, PARAMS, headers=headers)
    assert (again.status_code, again.json()["code"]) == (401, "replay")
    assert not GateNonce.objects.exists()


@pytest.mark.parametrize("store", ["database", "cache"])
def test_a_nonce_belongs_to_its_key(device, settings, store):
    """The same nonce from another device is not a replay; from the same device it is."""
    settings.GATE_NONCE_STORE = store
    nonce = "n" * 16 + keys.new_key()[0][3:]  # fresh per run: a shared Redis remembers 10 minutes
    assert keys.first_use("gk_one" + device[1], nonce) is True
    assert keys.first_use("gk_two" + device[1], nonce) is True
    assert keys.first_use("gk_one" + device[1], nonce) is False


def test_an_unreachable_redis_refuses_rather_than_lets_a_replay_through(
    client, device, settings, monkeypatch
):
    settings.GATE_NONCE_STORE = "cache"

    def down(*args, **kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(keys.cache, "add", down)
    response = client.get(PATH, PARAMS, headers=signed(device))
    assert (response.status_code, response.json()["code"]) == (503, "unavailable")
    assert "稍后重试" in response.json()["message"]
    assert not GateNonce.objects.exists()

"""campuspass.core.cache.RedisCache (issue 13): one redis client per connection pool instead of one per
cache operation, with Django's keys, values and behaviour unchanged."""

import os

import pytest
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from campuspass.core.cache import RedisCache

URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def test_one_client_per_pool_for_reads_and_writes():
    cache = RedisCache(URL, {})
    client = cache._cache.get_client("a", write=True)
    assert cache._cache.get_client("b", write=True) is client
    assert cache._cache.get_client("c") is client  # one server: reads use the write pool
    assert client.connection_pool is cache._cache._get_connection_pool(True)


def test_replicas_each_keep_their_own_client():
    cache = RedisCache([URL, URL.replace("6379", "6380")], {})
    writer = cache._cache.get_client(write=True)
    reader = cache._cache.get_client()
    assert reader is not writer and cache._cache.get_client() is reader


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_same_keys_and_values_as_djangos_backend():
    ours, django = (
        RedisCache(URL, {"KEY_PREFIX": "t-cache"}),
        DjangoRedisCache(URL, {"KEY_PREFIX": "t-cache"}),
    )
    ours.set("k", {"v": 1}, 30)
    assert django.get("k") == {"v": 1}
    assert ours.add("k", 2, 30) is False and django.add("k", 2, 30) is False
    ours.delete("k")
    assert django.add("k", 3, 30) is True and ours.get("k") == 3
    django.delete("k")


def test_replies_are_parsed_by_hiredis():
    """redis[hiredis] (issue 13): the C parser halves the client's CPU per command (a gate check's
    nonce, every session read) against redis-py's Python parser; redis-py picks it when installed."""
    from redis._parsers import _HiredisParser

    cache = RedisCache(URL, {})
    pool = cache._cache.get_client(write=True).connection_pool
    connection = pool.make_connection()  # not connected: only its parser is looked at
    assert isinstance(connection._parser, _HiredisParser)

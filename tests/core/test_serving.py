"""Issue 13: gunicorn as deploy/gunicorn.conf.py runs it hands a new connection to the worker holding
the fewest (campuspass/core/serving.py), and forks its workers with the master's objects frozen
out of the garbage collector. A real gunicorn, two workers, a tiny application that says which
process answered."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from campuspass.core.serving import ACCEPT_DEFER_MAX, accept_delay

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ask(conn: http.client.HTTPConnection) -> dict:
    conn.request("GET", "/")
    response = conn.getresponse()
    assert response.status == 200
    return json.loads(response.read())


@pytest.fixture
def served(tmp_path):
    """gunicorn -c deploy/gunicorn.conf.py with two workers of two threads, serving tests/support/pidapp."""
    port = free_port()
    env = {
        **os.environ,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        # Longer than production's 2 ms: on a loaded test machine the idle worker may not run within
        # 2 ms, and the test is about which worker takes the connection, not about the wait's length.
        "GUNICORN_ACCEPT_DEFER_MS": "50",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(
            [str(GUNICORN), "-c", "deploy/gunicorn.conf.py", "tests.support.pidapp:app"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=handle,
        )
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:  # both workers up and answering
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                pids.add(ask(conn)["pid"])
                conn.close()
            except OSError:
                time.sleep(0.1)
            assert proc.poll() is None, log.read_text()[-2000:]
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_worker_holding_connections_waits_longer_before_accepting():
    assert accept_delay(0) == 0  # a worker holding none takes the connection at once
    assert 0 < accept_delay(1) < accept_delay(2)
    assert accept_delay(1000) == ACCEPT_DEFER_MAX  # bounded: a busy worker still accepts soon


@pytest.mark.parametrize("raw", ["abc", "-1", "5000", ""])
def test_a_wrong_wait_setting_stops_the_start_with_its_name(raw):
    from campuspass.core.serving import _defer_seconds

    with pytest.raises(ValueError, match="GUNICORN_ACCEPT_DEFER_MS"):
        _defer_seconds(raw)
    assert _defer_seconds("2") == 0.002 and _defer_seconds("0") == 0


def test_two_kept_alive_connections_are_served_by_two_workers(served):
    """The second connection, opened while the first is held, goes to the other worker. gunicorn's
    own threaded worker gave it to the same worker in about half of such tries (both requests then
    share one interpreter lock while the other core idles). The workers here wait 50 ms, not 2: a
    loaded machine may leave the idle worker unscheduled for longer than 2 ms. One try in ten may
    still miss; gunicorn's own worker passes this test about once in a hundred runs."""
    missed = []
    for attempt in range(10):
        time.sleep(0.2)  # both workers have seen the previous connections close and hold none
        first = http.client.HTTPConnection("127.0.0.1", served, timeout=5)
        second = http.client.HTTPConnection("127.0.0.1", served, timeout=5)
        try:
            one = ask(first)  # the first connection is now held (kept alive) by the worker that took it
            two = ask(second)
            assert ask(first)["pid"] == one["pid"]  # kept alive: the same worker again
            if one["pid"] == two["pid"]:
                missed.append(attempt)
        finally:
            first.close()
            second.close()
    assert len(missed) <= 1, f"both connections went to one worker in tries {missed}"


def test_workers_start_with_the_masters_objects_frozen(served):
    conn = http.client.HTTPConnection("127.0.0.1", served, timeout=5)
    try:
        # The preloaded application and gunicorn itself: tens of thousands of objects a worker's
        # full collection never walks.
        assert ask(conn)["frozen"] > 10_000
    finally:
        conn.close()

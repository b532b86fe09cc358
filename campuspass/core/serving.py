"""gunicorn's threaded worker, taught to leave a new connection to a worker holding fewer (issue 13).

Every gunicorn worker waits on the same listening socket, and whichever calls ``accept()`` first
gets the connection. A worker is one Python process: its threads share one interpreter lock, so two
busy requests in the same worker take turns on one core even when another worker, on the other
core, has nothing to do. With keep-alive a connection stays with the worker that accepted it (nginx's
upstream pool, or any client that keeps its connection), so two office users searching at the same
moment were served by one worker in about half of the benchmark's runs: each search then took twice
as long (p50 46–49 ms against 26–27 ms, the same page, the same database; decision 0043 addendum 3).

Here a worker that already holds connections waits a moment before accepting: ``ACCEPT_DEFER``
seconds per connection it holds (2 ms unless GUNICORN_ACCEPT_DEFER_MS says otherwise; at most five
times that). A worker holding none accepts at once,
so a new connection goes to the worker holding the fewest. The loser of the race finds the queue empty
(EAGAIN) and goes on as before. The wait happens only when a connection is opened — with keep-alive,
rarely — and only in the worker's event loop: its threads go on serving meanwhile.
"""

from __future__ import annotations

import os
import time

from gunicorn.workers.gthread import ThreadWorker


def _defer_seconds(raw: str) -> float:
    try:
        milliseconds = float(raw)
    except ValueError:
        milliseconds = -1
    if not 0 <= milliseconds <= 1000:
        raise ValueError(
            f"GUNICORN_ACCEPT_DEFER_MS must be a number of milliseconds from 0 to 1000, not {raw!r}"
        )
    return milliseconds / 1000


#: Seconds a worker waits before accepting, per connection it already holds (GUNICORN_ACCEPT_DEFER_MS,
#: default 2 ms; 0 turns the balancing off).
ACCEPT_DEFER = _defer_seconds(os.environ.get("GUNICORN_ACCEPT_DEFER_MS", "2"))
#: The longest wait, however many connections a worker holds.
ACCEPT_DEFER_MAX = 5 * ACCEPT_DEFER


def accept_delay(held: int) -> float:
    """How long a worker holding `held` connections waits before it accepts a new one."""
    return min(held * ACCEPT_DEFER, ACCEPT_DEFER_MAX)


class BalancedThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker whose ``accept`` lets less loaded workers go first."""

    def accept(self, listener):
        delay = accept_delay(self.nr_conns)
        if delay:
            time.sleep(delay)  # releases the interpreter lock: this worker's requests go on
        super().accept(listener)

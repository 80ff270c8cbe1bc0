"""A process that spends a shared rate budget from several threads.

    python -m tests.state.rate_caller REDIS_URL START_AT THREADS CALLS_EACH

Waits until the Unix time START_AT, then every thread takes CALLS_EACH calls
from the budget of ``rate_windows()``; prints one JSON list of
[before, after] pairs: the wall-clock times around each granted try.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import redis

from worker.ratelimit import RateBudget

WINDOWS = ((10, 0.5), (30, 2.0))
KEY = "certrenew:test:rate"


def take_calls(
    budget: RateBudget, calls: int, grants: list[tuple[float, float]]
) -> None:
    """Take calls with try_acquire, noting the times around each granted try."""
    lock = threading.Lock()
    for _ in range(calls):
        while True:
            before = time.time()
            wait_seconds = budget.try_acquire()
            after = time.time()
            if wait_seconds == 0.0:
                with lock:
                    grants.append((before, after))
                break
            time.sleep(wait_seconds)


def main(argv: list[str]) -> None:
    url, start_at, threads, calls_each = (
        argv[0],
        float(argv[1]),
        int(argv[2]),
        int(argv[3]),
    )
    grants: list[tuple[float, float]] = []
    workers = [
        threading.Thread(
            target=take_calls,
            args=(
                RateBudget(redis.Redis.from_url(url), WINDOWS, key=KEY, headroom=1.0),
                calls_each,
                grants,
            ),
        )
        for _ in range(threads)
    ]
    time.sleep(max(0.0, start_at - time.time()))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps(grants))


if __name__ == "__main__":
    main(sys.argv[1:])

"""A scheduler stand-in that only runs the leader election.

    python -m tests.state.leader_process REDIS_URL HOLDER LEASE_SECONDS

Prints ``started``, then ``elected`` / ``demoted`` as they happen, one per
line; on SIGTERM it stops the election (releasing the lock), prints
``stopped`` and exits 0.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import redis

from scheduler.lock import LeaderElection, LeaderLock


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str]) -> int:
    url, holder, lease_seconds = argv[0], argv[1], float(argv[2])
    terminated = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        terminated.set()

    signal.signal(signal.SIGTERM, on_sigterm)
    lock = LeaderLock(
        redis.Redis.from_url(url), holder=holder, lease_seconds=lease_seconds
    )
    election = LeaderElection(
        lock, on_elected=lambda: say("elected"), on_demoted=lambda: say("demoted")
    )
    election.start()
    say("started")
    terminated.wait()
    election.stop()
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

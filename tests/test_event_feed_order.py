"""A follower tailing GET /events/?after=<last id> never misses an event, even when writers
in several processes commit transactions of varied length concurrently."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from tests import jobs
from tests.servers import PYTHON, ROOT, Database, ServerFarm, call, summary

pytestmark = pytest.mark.system

WRITERS = 4
TRANSACTIONS = 40


def follow(url: str, token: str, seen: list[int], stop: threading.Event) -> None:
    cursor = 0
    while True:
        outcome = call("GET", f"{url}/events/", token=token, params={"after": cursor, "limit": 100})
        assert outcome.status == 200, outcome.body
        ids = [event["id"] for event in outcome.body["results"]]
        seen.extend(ids)
        if ids:
            cursor = ids[-1]
        elif stop.is_set():
            return
        else:
            time.sleep(0.005)


def test_a_tailing_follower_sees_every_event_once_in_order(
    system_database: Database, farm: ServerFarm
):
    [server] = farm.start(system_database, count=1, workers=2)
    token = system_database.run(jobs.staff_token, username="follower")
    seen: list[int] = []
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(server.url, token, seen, stop))
    follower.start()
    started = time.monotonic()

    writers = [
        subprocess.Popen(
            [PYTHON, "-m", "tests.run_job", "tests.jobs:feed_writer"],
            cwd=ROOT,
            env=system_database.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(WRITERS)
    ]
    results = [
        writer.communicate(json.dumps({"writer": n, "count": TRANSACTIONS}), timeout=120)
        for n, writer in enumerate(writers)
    ]
    elapsed = time.monotonic() - started
    stop.set()
    follower.join(timeout=60)

    assert [w.returncode for w in writers] == [0] * WRITERS, results
    final = system_database.run(jobs.event_ids)
    assert not follower.is_alive()
    assert seen == sorted(final)
    assert len(final) >= WRITERS * TRANSACTIONS
    summary("event-feed-order", [], elapsed, events=len(final), writers=WRITERS)

"""A follower tailing GET /events/?after=<last id> never misses an event, even when writers
in several processes commit transactions of varied length concurrently."""

from __future__ import annotations

import subprocess
import threading
import time

import pytest

from tests.servers import PYTHON, ROOT, Database, ServerFarm, call, summary

pytestmark = pytest.mark.system

WRITERS = 4
TRANSACTIONS = 40

# Each transaction writes events, then stays open a random while before committing (the
# dangerous shape: an id drawn early, committed late), or commits at once.
WRITER = """
import os, random, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opply.settings")
import django
django.setup()
from django.db import transaction
from products.services import product_create, stock_adjust

writer, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(writer)
product = product_create(actor=None, name=f"Writer {writer}", price="1.00", quantity_in_stock=1000)
for n in range(count):
    with transaction.atomic():
        stock_adjust(product_id=product.pk, delta=rng.choice([1, -1]), actor=None)
        if rng.random() < 0.3:
            product_create(actor=None, name=f"W{writer}-{n}", price="1.00")
        time.sleep(rng.choice([0, 0, 0.001, 0.01, 0.05]))
print("done")
"""

STAFF = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user = get_user_model().objects.create_user("follower", is_staff=True)
result = Token.objects.create(user=user).key
"""


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
    token = system_database.run(STAFF)
    seen: list[int] = []
    stop = threading.Event()
    follower = threading.Thread(target=follow, args=(server.url, token, seen, stop))
    follower.start()
    started = time.monotonic()

    writers = [
        subprocess.Popen(
            [PYTHON, "-c", WRITER, str(n), str(TRANSACTIONS)],
            cwd=ROOT,
            env=system_database.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    results = [writer.communicate(timeout=120) for writer in writers]
    elapsed = time.monotonic() - started
    stop.set()
    follower.join(timeout=60)

    assert [w.returncode for w in writers] == [0] * WRITERS, results
    final = system_database.run(
        "from events.models import Event\nresult = list(Event.objects.values_list('pk', flat=True))"
    )
    assert not follower.is_alive()
    assert seen == sorted(final)
    assert len(final) >= WRITERS * TRANSACTIONS
    summary("event-feed-order", [], elapsed, events=len(final), writers=WRITERS)

"""The webhook scenario of `make bench`: events written under a burst of orders, and how long
they take from commit to a receiver, with one and with two `manage.py worker` processes.

bench/run.py drives it (`measure`): a receiver on 127.0.0.1 (a process of its own, started
here with `receive`) verifies every delivery's Standard Webhooks signature and writes one
JSON line per request with its time of receipt; an endpoint subscribed to the order events
points at it (`setup`, through the events services). For each worker count (one worker,
then a second one beside it): one order is placed and awaited (the workers are then
polling), wrk places orders for BENCH_DURATION seconds, and the run waits (at most
DRAIN_LIMIT_S) until every order event of the burst has arrived. The ceiling (`ceiling`)
sends the last burst's order events again from a plain loop, one after the other, with the
same signing and HTTP client (`events.sending.post`) and none of the worker's polling,
fan-out, claims, leases or attempt records.

    python bench/webhooks.py receive PORT SECRET LOG   the receiver (prints "ready")
    python bench/webhooks.py django URL                setup, then a ceiling per stdin line,
                                                       then the endpoint made inactive

Only the bench's own worker and ceiling processes get WEBHOOK_ALLOW_HTTP and
WEBHOOK_ALLOW_PRIVATE_NETWORKS (see `ALLOW_LOCAL_RECEIVER`); the API is served without them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ORDER_EVENTS = ["order.submitted", "order.cancelled", "order.fulfilled"]
ALLOW_LOCAL_RECEIVER = {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
WORKER_COUNTS = (1, 2)
DRAIN_LIMIT_S = 60.0  # after the burst; a webhook still missing then fails the run
READY_LIMIT_S = 60.0  # for the workers to deliver the warm-up order's event


# --- Pure functions: the receiver's log, percentiles, the summary of a burst ---------------


def percentile(values: Iterable[float], fraction: float) -> float:
    """The nearest-rank percentile (0 for no values): never better than a value seen."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil(n * fraction), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


def parse_receipts(text: str) -> list[dict[str, Any]]:
    """The receiver's JSON lines; a last line still being written is left for the next read."""
    receipts = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        if line.strip():
            receipts.append(json.loads(line))
    return receipts


def owed_event_ids(events: Iterable[tuple[int, str, float]]) -> set[int]:
    return {pk for pk, kind, _ in events if kind in ORDER_EVENTS}


def summarise(
    events: list[tuple[int, str, float]], receipts: list[dict[str, Any]], burst_ended: float
) -> dict[str, Any]:
    """A burst's delivery: `events` are (id, type, created_at epoch seconds) of every event
    the burst wrote; the order events among them are owed to the endpoint. Latency runs from
    an event's created_at to its first correctly signed receipt; drain from the end of the
    burst to the last of those receipts."""
    owed = {pk: created for pk, kind, created in events if kind in ORDER_EVENTS}
    first: dict[int, float] = {}
    duplicates = invalid = 0
    for receipt in receipts:
        if not receipt["valid"]:
            invalid += 1
            continue
        pk = receipt["event"]
        if pk not in owed:
            continue  # the warm-up order's, or an earlier burst's
        if pk in first:
            duplicates += 1
        first[pk] = min(first.get(pk, receipt["at"]), receipt["at"])
    latencies = [(first[pk] - created) * 1000 for pk, created in owed.items() if pk in first]
    return {
        "events": len(events),
        "webhooks": len(owed),
        "received": len(first),
        "missing": len(owed) - len(first),
        "duplicates": duplicates,
        "invalid": invalid,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies, default=0.0),
        "drain_s": max(0.0, max(first.values(), default=burst_ended) - burst_ended),
    }


# --- The run, driven by bench/run.py ----------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its threads so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _events(database_url: str, after: int, until: int | None = None) -> list[Any]:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return conn.execute(
            "SELECT id, type, extract(epoch FROM created_at)::float FROM events_event "
            "WHERE id > %s AND id <= %s ORDER BY id",
            (after, until if until is not None else 2**62),
        ).fetchall()


def _last_event_id(database_url: str) -> int:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM events_event").fetchone()
    return int(row[0]) if row else 0


def _start_receiver(port: int, secret: str, log_path: Path, out: Path) -> subprocess.Popen[str]:
    log_path.write_text("")
    with open(out, "a") as errors:
        receiver = subprocess.Popen(
            [sys.executable, __file__, "receive", str(port), secret, str(log_path)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,
        )
    assert receiver.stdout is not None
    if receiver.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the webhook receiver did not start; see {out}")
    return receiver


def _stop(*processes: subprocess.Popen[Any], grace: float = 20) -> None:
    """SIGTERM to all (a worker finishes its task first), SIGKILL to any still there after
    `grace` seconds."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(check: Callable[[], bool], within: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--no-startup-delay"],
            cwd=ROOT,
            env={**env, **ALLOW_LOCAL_RECEIVER},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _received(receipts_path: Path) -> set[int]:
    return {r["event"] for r in parse_receipts(receipts_path.read_text()) if r["valid"]}


def _burst(
    workers: list[subprocess.Popen[bytes]],
    *,
    env: dict[str, str],
    database_url: str,
    results: Path,
    port: int,
    secret: str,
    place_order: Callable[[], int],
    burst: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """One burst of orders while `workers` deliver; its summary."""
    count = len(workers)
    receipts_path = results / f"webhooks-{count}-receipts.jsonl"
    receiver = _start_receiver(port, secret, receipts_path, results / "receiver.log")
    try:
        # The warm-up order: once its event has arrived and every worker has logged its
        # start, the workers are polling.
        before = _last_event_id(database_url)
        if place_order() != 201:
            raise RuntimeError("the warm-up order was refused")
        warm_up = owed_event_ids(_events(database_url, before))
        logs = [results / f"worker-{n}.log" for n in range(count)]
        if not _wait_for(
            lambda: (
                warm_up <= _received(receipts_path)
                and all(b"Starting worker" in log.read_bytes() for log in logs)
            ),
            READY_LIMIT_S,
        ):
            raise RuntimeError(f"the workers delivered nothing in {READY_LIMIT_S:.0f} s")
        start = _last_event_id(database_url)
        cpu_before = sum(_cpu_seconds(w.pid) for w in workers)
        burst_started = time.time()
        orders = burst()
        burst_ended = time.time()
        until = _last_event_id(database_url)
        owed = owed_event_ids(_events(database_url, start, until))
        drained = _wait_for(lambda: owed <= _received(receipts_path), DRAIN_LIMIT_S, every=0.2)
        cpu = sum(_cpu_seconds(w.pid) for w in workers) - cpu_before
    finally:
        _stop(receiver)
    summary = summarise(
        _events(database_url, start, until), parse_receipts(receipts_path.read_text()), burst_ended
    )
    seconds = burst_ended - burst_started
    summary.update(
        workers=count,
        orders=orders,
        burst_s=seconds,
        events_per_s=summary["events"] / seconds,
        worker_cpu_ms=cpu * 1000 / max(summary["received"], 1),
        drained=drained,
        first_event=start + 1,
        last_event=until,
    )
    return summary


def measure(
    *,
    env: dict[str, str],
    database_url: str,
    results: Path,
    port: int,
    place_order: Callable[[], int],
    burst: Callable[[], dict[str, Any]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The scenario: a burst per worker count (the workers of one burst stay for the next),
    then the ceiling; every figure of the report. `place_order` places one order through
    the API (its status); `burst` runs wrk's submit scenario against the API (its
    statistics)."""
    url = f"http://127.0.0.1:{port}/hooks"
    # One Django process for the endpoint now and the ceiling later (one start-up less).
    helper = subprocess.Popen(
        [sys.executable, __file__, "django", url],
        cwd=ROOT,
        env={**env, **ALLOW_LOCAL_RECEIVER},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert helper.stdin is not None
    assert helper.stdout is not None
    # The first worker starts meanwhile: `setup` moves the dispatch cursor in the transaction
    # that creates the endpoint, so the worker never owes it an earlier event.
    workers = [_start_worker(env, results / "worker-0.log")]
    try:
        endpoint = json.loads(helper.stdout.readline())
        secret = endpoint["secret"]
        outcome: dict[str, Any] = {"concurrency": endpoint["concurrency"], "bursts": []}
        for count in WORKER_COUNTS:
            while len(workers) < count:
                workers.append(_start_worker(env, results / f"worker-{len(workers)}.log"))
            summary = _burst(
                workers,
                env=env,
                database_url=database_url,
                results=results,
                port=port,
                secret=secret,
                place_order=place_order,
                burst=burst,
            )
            outcome["bursts"].append(summary)
            log(
                f"webhooks, {count} worker{'s' * (count > 1)}: {summary['orders']['rps']:.0f} "
                f"orders/s, {summary['events_per_s']:.0f} events/s, {summary['webhooks']} "
                f"webhooks, p50 {summary['p50_ms']:.0f} ms, p99 {summary['p99_ms']:.0f} ms, "
                f"drain {summary['drain_s']:.1f} s, missing {summary['missing']}, duplicates "
                f"{summary['duplicates']}, invalid signatures {summary['invalid']}, worker "
                f"CPU {summary['worker_cpu_ms']:.2f} ms per webhook"
            )
        _stop(*workers)

        last = outcome["bursts"][-1]
        span = (last["first_event"] - 1, last["last_event"])
        receipts_path = results / "webhooks-ceiling-receipts.jsonl"
        receiver = _start_receiver(port, secret, receipts_path, results / "receiver.log")
        try:
            helper.stdin.write(f"{span[0]} {span[1]}\n")
            helper.stdin.flush()
            ceiling = json.loads(helper.stdout.readline())
        finally:
            _stop(receiver)
    finally:
        _stop(*workers)
        helper.stdin.close()
        helper.wait(timeout=30)
    owed = owed_event_ids(_events(database_url, *span))
    receipts = parse_receipts(receipts_path.read_text())
    ceiling["missing"] = len(owed - {r["event"] for r in receipts if r["valid"]})
    ceiling["invalid"] = sum(not r["valid"] for r in receipts)
    outcome["ceiling"] = ceiling
    log(
        f"webhooks, ceiling: {ceiling['sent']} webhooks at {ceiling['per_s']:.0f}/s, "
        f"{ceiling['cpu_ms']:.2f} ms CPU each, missing {ceiling['missing']}"
    )
    return outcome


def failures(outcome: dict[str, Any]) -> list[str]:
    """What makes the run fail: a webhook missing after the drain wait, a bad signature."""
    problems = []
    for side in [*outcome["bursts"], outcome["ceiling"]]:
        name = f"{side['workers']} worker(s)" if "workers" in side else "the ceiling"
        if side["missing"]:
            problems.append(f"{name}: {side['missing']} webhooks never arrived")
        if side["invalid"]:
            problems.append(f"{name}: {side['invalid']} deliveries with a bad signature")
    return problems


# --- Processes of their own: the receiver, and the Django side ---------------------------


def receive(port: int, secret: str, log_path: str) -> None:
    """Answer 200 to every POST; log its webhook-id, event, time and signature check."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    verifier = Webhook(secret)
    lock = threading.Lock()
    receipts = open(log_path, "a", buffering=1)  # noqa: SIM115 - open while serving

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            at = time.time()
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                event = verifier.verify(body, headers)
                valid = True
            except WebhookVerificationError:
                event, valid = json.loads(body or b"{}"), False
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            line = {
                "webhook_id": headers.get("webhook-id", ""),
                "event": event.get("id"),
                "type": event.get("type"),
                "at": at,
                "valid": valid,
            }
            with lock:
                receipts.write(json.dumps(line) + "\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    try:
        server.serve_forever()
    finally:
        receipts.close()


def setup(url: str) -> dict[str, Any]:
    """One endpoint, for the order events, at the receiver; the events written before the
    scenario (earlier scenarios, earlier runs) count as dispatched, so that only the
    scenario's own events are owed."""
    from django.conf import settings
    from django.db import transaction
    from django.db.models import Max

    from events.models import DispatchCursor, Event, WebhookEndpoint
    from events.services import endpoint_create

    DispatchCursor.objects.bulk_create([DispatchCursor(pk=1)], ignore_conflicts=True)
    with transaction.atomic():
        # The cursor's row lock first, as the fan-out takes it: no worker fans out meanwhile.
        cursor = DispatchCursor.objects.select_for_update().get(pk=1)
        WebhookEndpoint.objects.all().delete()  # an earlier run's, with its deliveries
        endpoint = endpoint_create(url=url, events=ORDER_EVENTS, description="make bench")
        cursor.last_event_id = Event.objects.aggregate(last=Max("pk"))["last"] or 0
        cursor.save(update_fields=["last_event_id"])
    return {
        "id": endpoint.pk,
        "secret": endpoint.secret,
        "concurrency": settings.WEBHOOK_CONCURRENCY,
    }


def ceiling(url: str, secret: str, after: int, until: int) -> dict[str, Any]:
    """The order events in (after, until] sent once each from a plain loop, one after the
    other: read in one query, rendered and POSTed with the workers' signing and HTTP client."""
    from events import sending
    from events.models import Event
    from events.serializers import event_body

    started, cpu = time.monotonic(), time.process_time()
    sent = [
        sending.post(
            url=url, secret=secret, webhook_id=f"msg_{event.pk}_ceiling", body=event_body(event)
        ).succeeded
        for event in Event.objects.filter(pk__gt=after, pk__lte=until, type__in=ORDER_EVENTS)
    ]
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    return {
        "sent": len(sent),
        "failed": sent.count(False),
        "seconds": seconds,
        "per_s": len(sent) / seconds if seconds else 0.0,
        "cpu_ms": cpu * 1000 / max(len(sent), 1),
    }


def django_side(url: str) -> None:
    """`setup` at once (its JSON on stdout), then `ceiling` for each "AFTER UNTIL" line read."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opply.settings")
    import django

    django.setup()
    from events.models import WebhookEndpoint
    from events.services import endpoint_update

    endpoint = setup(url)
    print(json.dumps(endpoint), flush=True)
    for line in sys.stdin:
        after, until = map(int, line.split())
        print(json.dumps(ceiling(url, endpoint["secret"], after, until)), flush=True)
    # No endpoint left active: the next run's first worker would owe it every new event.
    endpoint_update(endpoint=WebhookEndpoint.objects.get(pk=endpoint["id"]), is_active=False)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "receive":
        receive(int(args[0]), args[1], args[2])
    elif command == "django":
        django_side(args[0])
    else:
        sys.exit(f"unknown command {command!r}")

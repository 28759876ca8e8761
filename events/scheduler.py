"""What makes the periodic jobs and the fan-out of new events happen: each worker process
runs `run_forever` in a thread beside the task loop. django-tasks has no scheduler of its
own; this one only enqueues tasks, and a due job is claimed with one conditional UPDATE of
its PeriodicJob row, so however many workers run, each occurrence is enqueued once."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tasks.base import Task

from events import tasks
from events.models import PeriodicJob
from events.services import deliveries_due_exist, events_pending_dispatch

logger = logging.getLogger("opply.worker")

HOUR = 3600.0


def periodic_jobs() -> dict[str, tuple[Task, float]]:
    return {
        "purge_events": (tasks.purge_events, HOUR),
        "purge_idempotency_keys": (tasks.purge_idempotency_keys, HOUR),
        "purge_task_results": (tasks.purge_task_results, HOUR),
    }


def _claim(name: str, interval: float) -> bool:
    now = timezone.now()
    return bool(
        PeriodicJob.objects.filter(name=name, next_run_at__lte=now).update(
            next_run_at=now + timedelta(seconds=interval)
        )
    )


def _enqueue_if_claimed(name: str, task: Task, interval: float) -> bool:
    with transaction.atomic():
        if not _claim(name, interval):
            return False
        task.enqueue()
    return True


def _none_waiting(task: Task) -> bool:
    """No run of the task is queued and not yet started: one waiting is enough."""
    from django_tasks_db.models import DBTaskResult

    waiting = DBTaskResult.objects.filter(task_path=task.module_path, status="READY")
    return not waiting.exists()


def ensure_jobs() -> None:
    names = [*periodic_jobs(), "dispatch_events", "deliver_due"]
    PeriodicJob.objects.bulk_create(
        [PeriodicJob(name=name) for name in names], ignore_conflicts=True
    )


def tick(*, periodic: bool) -> list[str]:
    """Enqueue what is due now; the names of the jobs enqueued."""
    enqueued = []
    if (
        events_pending_dispatch()
        and _none_waiting(tasks.dispatch_events)
        and _enqueue_if_claimed(
            "dispatch_events", tasks.dispatch_events, settings.WORKER_POLL_SECONDS
        )
    ):
        enqueued.append("dispatch_events")
    # One more sender each poll while deliveries are due and unclaimed: as many workers as
    # there are send at once, and one whose worker died is taken over once its lease passes.
    if (
        deliveries_due_exist()
        and _none_waiting(tasks.deliver_due)
        and _enqueue_if_claimed("deliver_due", tasks.deliver_due, settings.WORKER_POLL_SECONDS)
    ):
        enqueued.append("deliver_due")
    if periodic:
        jobs = periodic_jobs()
        due = PeriodicJob.objects.filter(name__in=jobs, next_run_at__lte=timezone.now())
        for name in due.values_list("name", flat=True):
            task, interval = jobs[name]
            if _enqueue_if_claimed(name, task, interval):
                enqueued.append(name)
    return enqueued


def run_forever(stop: threading.Event) -> None:
    ensure_jobs()
    last_periodic = 0.0
    while not stop.is_set():
        periodic = time.monotonic() - last_periodic >= 1.0
        try:
            tick(periodic=periodic)
        except Exception:
            logger.exception("scheduler tick failed; retrying")
            connection.close()
        else:
            if periodic:
                last_periodic = time.monotonic()
        stop.wait(settings.WORKER_POLL_SECONDS)


def start() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(stop,), name="scheduler", daemon=True).start()
    return stop

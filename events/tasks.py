"""The background jobs, run by `python manage.py worker` (django-tasks, database backend)."""

from __future__ import annotations

import io
import time
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone
from django_tasks import task

from events import services

# A deliver_due task hands the worker back after this long, so that other jobs (the fan-out
# of new events first) get a turn; the scheduler queues another while deliveries remain due.
DELIVER_BUDGET_SECONDS = 5.0


@task(priority=50)
def dispatch_events() -> int:
    """Fan new events out into deliveries (until none is left)."""
    total = 0
    while dispatched := services.events_dispatch():
        total += dispatched
    return total


@task(priority=40)
def deliver_due() -> int:
    """Send due deliveries, a batch at a time, for up to DELIVER_BUDGET_SECONDS; new events
    are fanned out between batches, so that they do not wait for the budget to run out."""
    total = 0
    deadline = time.monotonic() + DELIVER_BUDGET_SECONDS
    while time.monotonic() < deadline:
        if services.events_pending_dispatch():
            services.events_dispatch()
        sent = services.deliver_due()
        if not sent:
            break
        total += sent
    return total


@task()
def purge_events() -> int:
    return services.events_purge()


@task()
def purge_idempotency_keys() -> None:
    call_command("purge_idempotency_keys", stdout=io.StringIO())


@task()
def purge_task_results() -> int:
    """Finished task rows older than a day, and rows of tasks whose worker died that long ago
    (the work of such a task is found again by the scheduler: nothing depends on them)."""
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=1)
    deleted, _ = (
        DBTaskResult.objects.filter(enqueued_at__lt=cutoff).exclude(status="READY").delete()
    )
    return deleted

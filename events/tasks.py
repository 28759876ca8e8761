"""The background jobs, run by `python manage.py worker` (django-tasks, database backend)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone
from django_tasks import task

from events import services


@task(priority=50)
def dispatch_events() -> int:
    """Fan new events out into deliveries (until none is left)."""
    total = 0
    while dispatched := services.events_dispatch():
        total += dispatched
    return total


@task()
def deliver(delivery_id: int) -> str:
    return services.delivery_attempt(delivery_id=delivery_id)


@task(priority=40)
def sweep_deliveries() -> int:
    return services.deliveries_sweep()


@task()
def purge_events() -> int:
    return services.events_purge()


@task()
def purge_idempotency_keys() -> None:
    call_command("purge_idempotency_keys", verbosity=0)


@task()
def purge_task_results() -> int:
    """Finished task rows older than a day, and rows of tasks whose worker died that long ago
    (a delivery's task is queued again by the sweep, so nothing depends on them)."""
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=1)
    deleted, _ = (
        DBTaskResult.objects.filter(enqueued_at__lt=cutoff).exclude(status="READY").delete()
    )
    return deleted

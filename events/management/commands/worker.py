"""`python manage.py worker`: runs every background job (webhook deliveries and retries,
the fan-out of new events, purges of old events, idempotency keys and task rows).

The task loop is django-tasks-db's own worker (tasks claimed with SELECT ... FOR UPDATE
SKIP LOCKED on PostgreSQL, an exclusive transaction on SQLite); beside it a thread enqueues
the periodic jobs (`events.scheduler`). Run as many workers as you like.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from events import scheduler


class Command(DatabaseWorkerCommand):
    help = "Run a background worker: webhook deliveries, retries and purges."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(
            interval=settings.WORKER_POLL_SECONDS, queue_name="default", reload=False
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler.start()
        super().handle(*args, **options)

"""`python manage.py check_stock`: every product's stock against its ledger (docs/api.md);
`--repair` records each difference in the ledger as a `reconcile` movement."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Sum
from django.db.models.functions import Coalesce

from products.models import Product
from products.services import stock_reconcile

REPAIR_NOTE = "check_stock --repair"


class Command(BaseCommand):
    help = (
        "Reconcile every product's quantity_in_stock with the sum of its stock movements. "
        "Prints each mismatch and exits 1 if there is any. With --repair, after confirmation, "
        "writes one 'reconcile' movement per mismatch (the difference, in the name of --actor), "
        "leaving the stock as it is, so the ledger explains it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--repair",
            action="store_true",
            help="record each difference in the ledger as a 'reconcile' movement",
        )
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="the staff user the repair is recorded for (required with --repair)",
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="repair without asking (needed when not on a terminal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._repair_actor(options) if options["repair"] else None
        # One aggregate query over the whole catalogue, streamed rather than loaded at once.
        rows = (
            Product.objects.order_by("pk")
            .annotate(ledger=Coalesce(Sum("movements__delta"), 0))
            .values_list("pk", "quantity_in_stock", "ledger")
        )
        checked = 0
        mismatched: list[int] = []
        for product_id, stock, ledger in rows.iterator(chunk_size=2000):
            checked += 1
            if stock != ledger:
                mismatched.append(product_id)
                self.stdout.write(
                    f"product {product_id}: quantity_in_stock {stock}, "
                    f"sum of movements {ledger} (difference {stock - ledger:+d})"
                )
        if not mismatched:
            self.stdout.write(f"Stock ledger clean: {checked} products match their movements.")
            return
        summary = f"{len(mismatched)} of {checked} products do not match their stock ledger."
        if actor is None:
            raise CommandError(
                f"{summary} To record each difference in the ledger as a 'reconcile' movement "
                "(the stock stays as it is), run: "
                "manage.py check_stock --repair --actor USERNAME",
                returncode=1,
            )
        if not options["yes"] and not self._confirmed(len(mismatched), actor):
            raise CommandError(f"{summary} Nothing was written.", returncode=1)
        written = sum(
            stock_reconcile(product_id=pk, actor=actor, note=REPAIR_NOTE) is not None
            for pk in mismatched
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {written} reconcile movement(s) for {actor.get_username()}; "
                "the ledger now explains the stock of every product listed above."
            )
        )

    def _repair_actor(self, options: dict[str, Any]) -> Any:
        """The staff user a repair is written for; refuses before anything is read when the
        repair could not be confirmed."""
        if not options["yes"] and not sys.stdin.isatty():
            raise CommandError(
                "--repair asks for confirmation on a terminal; add --yes to repair without one."
            )
        username = options["actor"]
        if not username:
            raise CommandError("--repair needs --actor USERNAME, the staff user it is written for.")
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None or not user.is_staff:
            raise CommandError(f"--actor {username}: no active staff user of that name.")
        return user

    def _confirmed(self, count: int, actor: Any) -> bool:
        self.stdout.write(
            f"Write {count} reconcile movement(s) for {actor.get_username()}? [y/N] ", ending=""
        )
        self.stdout.flush()
        return sys.stdin.readline().strip().lower() in {"y", "yes"}

"""`python manage.py check_stock`: every product's stock against its ledger (docs/api.md,
"The stock ledger")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from django.db.models.functions import Coalesce

from products.models import Product


class Command(BaseCommand):
    help = (
        "Reconcile every product's quantity_in_stock with the sum of its stock movements. "
        "Prints each mismatch and exits 1 if there is any."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # One aggregate query over the whole catalogue, streamed rather than loaded at once.
        rows = (
            Product.objects.order_by("pk")
            .annotate(ledger=Coalesce(Sum("movements__delta"), 0))
            .values_list("pk", "quantity_in_stock", "ledger")
        )
        checked = mismatched = 0
        for product_id, stock, ledger in rows.iterator(chunk_size=2000):
            checked += 1
            if stock != ledger:
                mismatched += 1
                self.stdout.write(
                    f"product {product_id}: quantity_in_stock {stock}, "
                    f"sum of movements {ledger} (difference {stock - ledger:+d})"
                )
        if mismatched:
            raise CommandError(
                f"{mismatched} of {checked} products do not match their stock ledger.",
                returncode=1,
            )
        self.stdout.write(f"Stock ledger clean: {checked} products match their movements.")

"""`python manage.py seed_demo`: a small catalogue, a staff user and two buyers to try
the API and the admin with. Safe to run again: nothing is duplicated."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from products.models import Product
from products.services import product_create

DEMO_PRODUCTS = [
    ("DEMO-FLOUR", "Organic wheat flour, 25 kg", Decimal("18.50"), 120),
    ("DEMO-SUGAR", "Cane sugar, 10 kg", Decimal("12.90"), 80),
    ("DEMO-COCOA", "Cocoa powder, 5 kg", Decimal("34.00"), 25),
    ("DEMO-VANILLA", "Vanilla pods, 100 g", Decimal("21.75"), 10),
    ("DEMO-OATS", "Rolled oats, 20 kg", Decimal("15.20"), 60),
    ("DEMO-SALT", "Sea salt, 5 kg", Decimal("4.80"), 0),
    ("DEMO-EGGS", "Free-range eggs, tray of 30", Decimal("7.20"), 240),
]
# Quantity rules by SKU (min, increment, max): eggs go by the case of 6 trays, 2 cases at least.
DEMO_RULES = {"DEMO-EGGS": (12, 6, 120)}
# (username, is_staff): the staff user is also a superuser, so the admin shows everything.
DEMO_USERS = [("demo-staff", True), ("demo-buyer-1", False), ("demo-buyer-2", False)]


class Command(BaseCommand):
    help = (
        "Create a demo catalogue, a staff user (demo-staff) and two buyers (demo-buyer-1, "
        "demo-buyer-2), and print their credentials. Refuses unless DEBUG is on or --force "
        "is given. Running it again adds nothing and sets new passwords."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="run even though DEBUG is off (not production!)"
        )
        parser.add_argument(
            "--password",
            help="give every demo user this password instead of a new random one each",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates users with printed passwords, so it only runs with DEBUG on. "
                "Use --force to run it anyway (never on a production database)."
            )
        with transaction.atomic():
            created_products = self._products()
            credentials = self._users(options["password"])
        self.stdout.write(
            f"Demo catalogue: {len(DEMO_PRODUCTS)} products ({created_products} new)."
        )
        self.stdout.write("Demo users (username / password):")
        for username, password, is_staff in credentials:
            role = "staff, admin at /admin/" if is_staff else "buyer"
            self.stdout.write(f"  {username} / {password}   ({role})")

    def _products(self) -> int:
        existing = set(
            Product.objects.filter(sku__in=[sku for sku, *_ in DEMO_PRODUCTS]).values_list(
                "sku", flat=True
            )
        )
        created = 0
        for sku, name, price, stock in DEMO_PRODUCTS:
            if sku not in existing:
                minimum, increment, maximum = DEMO_RULES.get(sku, (1, 1, None))
                product_create(
                    actor=None,
                    sku=sku,
                    name=name,
                    price=price,
                    quantity_in_stock=stock,
                    min_order_quantity=minimum,
                    order_increment=increment,
                    max_order_quantity=maximum,
                )
                created += 1
        return created

    def _users(self, password: str | None) -> list[tuple[str, str, bool]]:
        User = get_user_model()
        credentials = []
        for username, is_staff in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            user.is_staff = user.is_superuser = is_staff
            user.is_active = True
            secret = password or secrets.token_urlsafe(12)
            user.set_password(secret)
            user.save()
            credentials.append((username, secret, is_staff))
        return credentials

"""Catalogue factories. Products are made through the service, so the ledger holds."""

from decimal import Decimal

import factory

from products.models import Product
from products.services import product_create


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("10.00")
    quantity_in_stock = 100
    is_active = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return product_create(actor=None, **kwargs)

"""Order and user factories."""

import factory
from django.contrib.auth import get_user_model

from orders.models import Order, OrderLine
from products.tests.factories import ProductFactory

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"buyer{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


class OrderFactory(factory.django.DjangoModelFactory[Order]):
    """An active cart. Submit it through orders.services to move stock."""

    class Meta:
        model = Order

    user = factory.SubFactory(UserFactory)


class OrderLineFactory(factory.django.DjangoModelFactory[OrderLine]):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1

"""Reads of events and deliveries, scoped to the caller."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Prefetch, QuerySet

from events.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint


def event_scope(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Event]:
    """Every event the caller may see: all for staff, the events about a buyer's own orders
    for a buyer. The one place this rule lives."""
    if getattr(user, "is_staff", False):
        return Event.objects.all()
    return Event.objects.filter(buyer_id=user.pk or 0)


def event_page(
    *,
    user: AbstractBaseUser | AnonymousUser,
    after: int,
    types: list[str] | None,
    limit: int,
) -> tuple[list[Event], bool]:
    """The visible events after `after`, oldest first, at most `limit`, and whether more follow."""
    events = event_scope(user=user).filter(pk__gt=after)
    if types:
        events = events.filter(type__in=types)
    page = list(events.order_by("pk")[: limit + 1])
    return page[:limit], len(page) > limit


def delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .only("event__type", *[f.name for f in Delivery._meta.concrete_fields])
        .prefetch_related(Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("-id")))
        .order_by("-id")
    )

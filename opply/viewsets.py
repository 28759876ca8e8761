"""Behaviour shared by the apps' viewsets."""

from typing import TypeVar

from django.db.models import Model, QuerySet
from rest_framework import viewsets

_M = TypeVar("_M", bound=Model)


class ListFilteredViewSet(viewsets.GenericViewSet[_M]):
    """Query parameters narrow the list only: a single object is looked up among everything
    the caller may see, without building the FilterSet (a quarter of a detail's CPU)."""

    def filter_queryset(self, queryset: QuerySet[_M]) -> QuerySet[_M]:  # type: ignore[override]
        return super().filter_queryset(queryset) if self.action == "list" else queryset

"""Behaviour shared by the apps' viewsets."""

from typing import TypeVar

from django.db.models import Model, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets

from opply.filters import filter_input_absent

_M = TypeVar("_M", bound=Model)


class ListFilteredViewSet(viewsets.GenericViewSet[_M]):
    """Query parameters narrow the list only: a single object is looked up among everything
    the caller may see, without building the FilterSet (a quarter of a detail's CPU)."""

    def filter_queryset(self, queryset: QuerySet[_M]) -> QuerySet[_M]:  # type: ignore[override]
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def unfiltered_list(self) -> bool:
        """Whether this list request gives the view's one filter backend, django-filter's,
        no filter input: it is then narrowed as `opply.filters.unfiltered` narrows it, which
        a list may read by a prepared statement (opply/prepared.py) rather than build the
        FilterSet, its form and the page's SQL for every request."""
        return (
            self.action == "list"
            and list(self.filter_backends) == [DjangoFilterBackend]
            and filter_input_absent(self.filterset_class, self.request.query_params)  # type: ignore[attr-defined]
        )

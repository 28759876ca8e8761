"""Query-parameter filters shared by the apps' filter sets."""

from typing import Any, ClassVar, NamedTuple

import django_filters
from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django_filters.filters import QuerySetRequestMixin


class StrictBooleanField(forms.Field):
    """`true`/`false` (or `1`/`0`); anything else is an error rather than silently ignored."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value: Any) -> bool | None:
        text = str(value).strip().lower() if value is not None else ""
        if text == "":
            return None
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class _EmptyInput(NamedTuple):
    valid: bool
    fields: tuple[tuple[str, forms.Widget], ...]


_NO_FILES: MultiValueDict[str, Any] = MultiValueDict()
_EMPTY_INPUT: dict[type[django_filters.FilterSet], _EmptyInput] = {}


def filter_input_absent(filterset_class: type[django_filters.FilterSet], data: QueryDict) -> bool:
    """Whether `data` (a request's query parameters) gives the filter set's form no input at
    all: every field's widget finds its value omitted (Django's `value_omitted_from_data`,
    which knows the keys a widget reads, suffixed ones included), and the form is valid when
    empty. The form then cleans exactly as with no parameters, so the filter set filters
    such a request as `unfiltered()` does, and no such request can be a 400.

    For filter sets whose form is Django's plain Form (its input read only through its
    fields); any other form class answers False, and its requests take the usual path."""
    known = _EMPTY_INPUT.get(filterset_class)
    if known is None:
        known = _EMPTY_INPUT[filterset_class] = _empty_input(filterset_class)
    return known.valid and all(
        widget.value_omitted_from_data(data, _NO_FILES, name) for name, widget in known.fields
    )


def _empty_input(filterset_class: type[django_filters.FilterSet]) -> _EmptyInput:
    if filterset_class._meta.form is not forms.Form:
        return _EmptyInput(False, ())
    model = filterset_class._meta.model
    form = filterset_class(QueryDict(), queryset=model._default_manager.none()).form
    return _EmptyInput(
        form.is_valid(), tuple((bound.html_name, bound.field.widget) for bound in form)
    )


def unfiltered(
    filterset_class: type[django_filters.FilterSet],
    queryset: QuerySet[Any],
    request: Any = None,
) -> QuerySet[Any]:
    """`queryset` as the filter set narrows it for a request with no filter input (what
    DRF's filter backend returns when `filter_input_absent` holds)."""
    filterset = filterset_class(QueryDict(), queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValueError(f"{filterset_class.__name__} refuses empty input")
    return filterset.qs


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, its form class built once per filter set and model rather
    than for every request: a class from the filters' fields (a new class, through Django's
    form metaclass, each time). Each form still gets its own copy of the fields (Django's
    Form deep-copies them), so one request's input and errors never meet another's.

    Not for filter sets whose fields depend on the request (django-filter's
    QuerySetRequestMixin filters: a queryset from a callable of the request): those build
    their form class per instance, as django-filter does."""

    _form_classes: ClassVar[dict[tuple[type, type], type[forms.Form]]] = {}

    def get_form_class(self) -> type[forms.Form]:
        if any(isinstance(f, QuerySetRequestMixin) for f in self.filters.values()):
            return super().get_form_class()
        key = (type(self), self.queryset.model)
        form_class = self._form_classes.get(key)
        if form_class is None:
            form_class = self._form_classes[key] = super().get_form_class()
        return form_class

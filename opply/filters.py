"""Query-parameter filters shared by the apps' filter sets."""

from typing import Any

import django_filters
from django import forms


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

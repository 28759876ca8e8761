"""orjson's bytes are DRF's bytes for every body the products and orders endpoints write."""

from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from opply.renderers import FastJSONRenderer

BODIES = [
    {"text": 'caf\u00e9 \u2028 \u2029 \x00 \x1f \x7f "q" \\ / \n\t\b\f\r \U0001f600', "none": None},
    {"count": 3, "next": None, "results": [{"id": 2**63 - 1, "ok": True, "no": False}]},
    [{"nested": [[], {}, [1, (2, 3)]]}],
    {"big": 2**70},  # beyond 64 bits: DRF's encoder takes over
    {"amount": Decimal("1.10")},  # likewise
    {"detail": gettext_lazy("Not found.")},  # likewise
    {"half": 0.5, "tenth": 0.1},
]


@pytest.mark.parametrize("body", BODIES)
def test_the_same_bytes_as_drfs_renderer(body):
    assert FastJSONRenderer().render(body) == JSONRenderer().render(body)


def test_pretty_printing_and_empty_bodies_are_drfs():
    body = {"a": [1, 2]}
    indented = "application/json; indent=2"
    assert FastJSONRenderer().render(body, indented) == JSONRenderer().render(body, indented)
    assert FastJSONRenderer().render(None) == b""

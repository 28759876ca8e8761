"""Fixtures of the products app's tests."""

import pytest


@pytest.fixture
def database_cache(settings):
    """Django's database cache in place of a shared one: no catalogue marker to go by."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "opply_cache",
        }
    }

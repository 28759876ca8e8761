"""Pieces shared by the apps' admin modules."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class ReadOnlyTabularInline(admin.TabularInline):
    """Rows shown for reference: history written by services, never edited in the admin."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Rows written by services alone (the ledger, events, deliveries): listed and shown,
    never added, changed or deleted in the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

"""Events, webhook endpoints and deliveries in the Django admin (staff). Endpoints are
created and re-keyed through events.services; deliveries are read-only and redeliverable."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from events import services, ssrf
from events.models import Delivery, DeliveryAttempt, Event, EventType, WebhookEndpoint
from opply.admin_tools import ReadOnlyModelAdmin, ReadOnlyTabularInline


@admin.register(Event)
class EventAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "type", "created_at", "buyer_id"]
    list_filter = ["type"]
    search_fields = ["=id", "=buyer_id"]
    shown = ("id", "type", "created_at", "buyer_id", "data")
    fields = readonly_fields = shown


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "is_active", "description"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            ssrf.resolve(url)
        except ssrf.UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from exc
        return str(url)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["id", "url", "is_active", "description", "created_at"]
    list_filter = ["is_active"]
    actions = ["rotate_secret"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        fields["events"] = sorted(fields["events"])
        if change:
            services.endpoint_update(endpoint=obj, **fields)
            return
        created = services.endpoint_create(**fields)
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at
        obj._state.adding = False
        obj._state.db = created._state.db
        messages.warning(
            request, f"Signing secret of {created.url} (shown only now): {created.secret}"
        )

    @admin.action(description="Rotate the signing secret (the new one is shown once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            rotated = services.endpoint_rotate_secret(endpoint=endpoint)
            messages.warning(request, f"New signing secret of {rotated.url}: {rotated.secret}")


class DeliveryAttemptInline(ReadOnlyTabularInline):
    model = DeliveryAttempt
    shown = (
        "number",
        "succeeded",
        "status_code",
        "error",
        "duration_ms",
        "created_at",
    )
    fields = readonly_fields = shown


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "event", "endpoint", "state", "attempts", "next_attempt_at"]
    list_filter = ["state", "endpoint"]
    list_select_related = ["event", "endpoint"]
    shown = (
        "event",
        "endpoint",
        "state",
        "attempts",
        "next_attempt_at",
        "updated_at",
    )
    fields = readonly_fields = shown
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset.select_related("endpoint"):
            services.endpoint_redeliver(endpoint=delivery.endpoint, event_id=delivery.event_id)
        messages.success(request, f"Queued {queryset.count()} deliveries again.")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The redeliver action needs it; every field stays read-only.
        return bool(request.user.is_staff)

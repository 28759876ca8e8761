"""Orders in the Django admin. Status changes go through orders.services, the same
functions as the API, so stock and ledger stay right; a transition the order cannot make
becomes a message on the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.dateformat import format as date_format
from django.utils.timezone import localtime

from opply.admin_tools import ReadOnlyTabularInline
from opply.exceptions import DomainError
from opply.limits import looks_like_id
from orders import pricing
from orders.models import Order, OrderLine
from orders.services import order_cancel, order_fulfil

Transition = Callable[..., Order]


def _compact(moment: datetime | None) -> str:
    """A date and time in 16 characters (the admin's long form takes 24)."""
    return date_format(localtime(moment), "Y-m-d H:i") if moment else "-"


class OrderLineInline(ReadOnlyTabularInline):
    """Lines as the buyer left them. Read-only: carts change through the API, and once an
    order is submitted its lines and frozen prices are history."""

    model = OrderLine
    fields = readonly_fields = ("product", "quantity", "price_each", "line_total")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("product")

    @admin.display(description="unit price")
    def price_each(self, line: OrderLine) -> str:
        return pricing.money(pricing.line_unit_price(line))

    @admin.display(description="line total")
    def line_total(self, line: OrderLine) -> str:
        unit = pricing.line_unit_price(line)
        return pricing.money(pricing.line_total(unit, line.quantity))


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    # Status first after the number, and dates in a compact form: the whole row fits beside
    # the navigation and the filters at 1366 px without scrolling sideways. The creation date
    # is the list's order and its date hierarchy rather than a column.
    list_display = [
        "id",
        "status",
        "buyer",
        "po_number",
        "line_count",
        "total",
        "submitted",
        "closed_at",
    ]
    list_filter = ["status", "created_at", "submitted_at"]
    list_select_related = ["user"]
    search_fields = ["user__username", "po_number"]
    search_help_text = "Buyer's username, a PO number, or an order number."
    date_hierarchy = "created_at"
    fields = readonly_fields = (
        "user",
        "status",
        "po_number",
        "note",
        "version",
        "total",
        "created_at",
        "submitted_at",
        "fulfilled_at",
        "cancelled_at",
    )
    inlines = [OrderLineInline]
    actions = ["mark_fulfilled", "cancel_and_restock"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        lines = Prefetch("lines", OrderLine.objects.select_related("product"))
        orders = super().get_queryset(request).annotate(line_count=Count("lines"))
        return orders.prefetch_related(lines)

    @admin.display(description="total", ordering="total_amount")
    def total(self, order: Order) -> str:
        """Frozen for a placed order; a cart's running total at current prices."""
        return pricing.money(pricing.order_total(order, order.lines.all()))

    @admin.display(description="buyer", ordering="user__username")
    def buyer(self, order: Order) -> str:
        return order.user.get_username()

    @admin.display(description="lines", ordering="line_count")
    def line_count(self, order: Any) -> int:
        return int(order.line_count)

    @admin.display(description="submitted", ordering="submitted_at")
    def submitted(self, order: Order) -> str:
        return _compact(order.submitted_at)

    @admin.display(description="closed")
    def closed_at(self, order: Order) -> str:
        """When it was fulfilled or cancelled (the status says which)."""
        return _compact(order.fulfilled_at or order.cancelled_at)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        number = search_term.strip().lstrip("#")
        if looks_like_id(number):
            term = search_term.strip()
            matches = (
                Q(user__username__icontains=term) | Q(po_number__icontains=term) | Q(pk=int(number))
            )
            return queryset.filter(matches), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Every field is read-only; saving a stale copy could undo a concurrent transition."""

    # Orders come from buyers through the API and are history afterwards.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # --- transitions: list actions and buttons on the order page -----------------------

    @admin.action(description="Mark selected orders fulfilled", permissions=["change"])
    def mark_fulfilled(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._transition(request, queryset, order_fulfil, "fulfilled")

    @admin.action(description="Cancel selected orders and restock", permissions=["change"])
    def cancel_and_restock(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._transition(request, queryset, order_cancel, "cancelled and restocked")

    def _transition(
        self, request: HttpRequest, queryset: QuerySet[Any], service: Transition, done: str
    ) -> int:
        """Apply `service` to each order in its own transaction; one message per refusal."""
        succeeded = []
        for order_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                order = service(actor=request.user, order_id=order_id)
            except DomainError as exc:
                self.message_user(request, f"Order #{order_id}: {exc.detail}", messages.ERROR)
            else:
                self.log_change(request, order, f"Order {done}.")
                succeeded.append(f"#{order_id}")
        if succeeded:
            noun = "Order" if len(succeeded) == 1 else "Orders"
            self.message_user(request, f"{noun} {', '.join(succeeded)} {done}.", messages.SUCCESS)
        return len(succeeded)

    def get_urls(self) -> list[Any]:
        def transition_url(name: str, service: Transition, done: str) -> Any:
            def view(request: HttpRequest, object_id: str) -> HttpResponse:
                return self._transition_view(request, object_id, service, done)

            return path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(view),
                name=f"orders_order_{name}",
            )

        return [
            transition_url("fulfil", order_fulfil, "fulfilled"),
            transition_url("cancel", order_cancel, "cancelled and restocked"),
            *super().get_urls(),
        ]

    def _transition_view(
        self, request: HttpRequest, object_id: str, service: Transition, done: str
    ) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self.get_object(request, unquote(object_id))
        if order is None:
            self.message_user(request, f"No order with id {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        self._transition(request, Order.objects.filter(pk=order.pk), service, done)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        original = context.get("original")
        context["can_transition"] = (
            original is not None
            and original.status == Order.Status.SUBMITTED
            and self.has_change_permission(request, original)
        )
        # Nothing on the page is editable: status moves only through the buttons.
        context.update(
            show_save=False, show_save_and_continue=False, show_save_and_add_another=False
        )
        return super().render_change_form(request, context, *args, **kwargs)

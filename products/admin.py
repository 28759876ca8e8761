"""The catalogue in the Django admin. Every write goes through products.services, so stock
only ever changes with a ledger movement: the quantity field is read-only once a product
exists, and the "Adjust stock" page asks for a signed change and a note saying why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from opply.admin_tools import ReadOnlyModelAdmin, ReadOnlyTabularInline
from opply.exceptions import DomainError, InsufficientStock
from opply.limits import looks_like_id
from products.forms import ProductAdminForm, StockAdjustForm
from products.models import MAX_STOCK, WRITABLE_FIELDS, Product, StockMovement
from products.services import product_create, product_delete, product_update, stock_adjust

# The product page shows this many movements; the full ledger is one link away.
INLINE_MOVEMENTS = 50
EDITABLE_FIELDS = (
    "name",
    "sku",
    "price",
    "is_active",
    "min_order_quantity",
    "order_increment",
    "max_order_quantity",
)


class StockStatusFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("in", "In stock"), ("out", "Out of stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "in":
            return queryset.filter(quantity_in_stock__gt=0)
        if self.value() == "out":
            return queryset.filter(quantity_in_stock=0)
        return queryset


class NewestMovementsFormSet(BaseInlineFormSet):
    """Only the newest movements: a busy product's ledger would make its page endless."""

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_newest"):
            self._newest = super().get_queryset()[:INLINE_MOVEMENTS]
        return self._newest


class StockMovementInline(ReadOnlyTabularInline):
    model = StockMovement
    formset = NewestMovementsFormSet
    fields = readonly_fields = (
        "created_at",
        "delta",
        "quantity_after",
        "reason",
        "note",
        "order_id",
        "actor",
    )
    verbose_name_plural = f"Stock movements (newest {INLINE_MOVEMENTS} first)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .select_related("actor", "product")
            .order_by("-created_at", "-id")
        )


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ["name", "sku", "price", "quantity_in_stock", "case_pack", "is_active"]
    search_fields = ["name", "sku"]
    list_filter = ["is_active", StockStatusFilter]
    fields = [
        *WRITABLE_FIELDS,
        "version",
        "loaded_version",
        "created_at",
        "updated_at",
    ]
    inlines = [StockMovementInline]

    @admin.display(description="order in")
    def case_pack(self, product: Product) -> str:
        top = product.max_order_quantity
        rule = f"min {product.min_order_quantity}, step {product.order_increment}"
        return rule if top is None else f"{rule}, max {top}"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Initial stock may be entered when adding; afterwards only "Adjust stock" changes it.
        readonly = ["version", "created_at", "updated_at"]
        if obj is not None:
            readonly.insert(0, "quantity_in_stock")
        return readonly

    def get_urls(self) -> list[Any]:
        adjust = path(
            "<path:object_id>/adjust-stock/",
            self.admin_site.admin_view(self.adjust_stock_view),
            name="products_product_adjust_stock",
        )
        return [adjust, *super().get_urls()]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            fields = {name: data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
            saved = product_update(product_id=obj.pk, actor=request.user, **fields)
        else:
            saved = product_create(
                actor=request.user,
                name=data["name"],
                sku=data.get("sku") or None,
                price=data["price"],
                quantity_in_stock=data.get("quantity_in_stock") or 0,
                is_active=data.get("is_active", True),
                min_order_quantity=data.get("min_order_quantity") or 1,
                order_increment=data.get("order_increment") or 1,
                max_order_quantity=data.get("max_order_quantity"),
            )
        # The admin goes on with `obj` (log entry, message, redirect): make it the saved row.
        for field in Product._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False
        obj._state.db = saved._state.db

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # A product's ledger goes with it (product_delete); nobody deletes movements by hand.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(str(StockMovement._meta.verbose_name))
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        product_delete(product_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            product_delete(product_id=pk)

    def adjust_stock_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        product = self.get_object(request, unquote(object_id))
        if product is None:
            self.message_user(request, f"No product with id {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:products_product_changelist"))
        if not self.has_change_permission(request, product):
            raise PermissionDenied
        form = StockAdjustForm(request.POST if request.method == "POST" else None)
        if form.is_valid() and product.quantity_in_stock + form.cleaned_data["delta"] > MAX_STOCK:
            form.add_error("delta", f"Stock cannot go above {MAX_STOCK}.")
        if form.is_valid():
            delta, note = form.cleaned_data["delta"], form.cleaned_data["note"]
            try:
                movement = stock_adjust(
                    product_id=product.pk,
                    delta=delta,
                    actor=request.user,
                    note=note,
                    reason=StockMovement.Reason.ADJUSTMENT,
                )
            # A refusal is said once, beside the field or atop the form, never also as a message.
            except InsufficientStock as exc:
                available = exc.lines[0]["available"]
                form.add_error("delta", f"Only {available} in stock: stock cannot go below 0.")
            except DomainError as exc:
                form.add_error(None, f"Stock was not changed: {exc.detail}")
            else:
                self.log_change(request, product, f"Adjusted stock by {delta:+d}: {note}")
                self.message_user(
                    request,
                    f"Stock of “{product}” changed by {delta:+d} to {movement.quantity_after}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:products_product_change", args=[product.pk])
                )
            product.refresh_from_db()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust stock: {product}",
            "opts": self.opts,
            "original": product,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/products/product/adjust_stock.html", context)


class ProductInputFilter(admin.SimpleListFilter):
    """Filter by one product, typed as its id or SKU: a catalogue is too long for links."""

    title = "product"
    parameter_name = "product"
    template = "admin/products/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return []

    def has_output(self) -> bool:
        return True

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        matches = Q(product__sku=value)
        if looks_like_id(value):
            matches |= Q(product_id=int(value))
        return queryset.filter(matches)

    def choices(self, changelist: Any) -> Iterator[Any]:
        hidden = [
            (name, value)
            for name, values in changelist.get_filters_params().items()
            if name != self.parameter_name
            for value in (values if isinstance(values, list) else [values])
        ]
        if changelist.query:
            hidden.append(("q", changelist.query))
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "hidden": hidden,
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
        }


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyModelAdmin):
    """The ledger, read-only: movements are written by the stock services alone."""

    list_display = [
        "created_at",
        "product_link",
        "delta",
        "quantity_after",
        "reason",
        "order_id",
        "actor",
        "note",
    ]
    list_filter = ["reason", ProductInputFilter]
    search_fields = ["product__name", "product__sku"]
    list_select_related = ["product", "actor"]
    show_full_result_count = False

    @admin.display(description="product", ordering="product__name")
    def product_link(self, movement: StockMovement) -> str:
        url = reverse("admin:products_product_change", args=[movement.product_id])
        return format_html('<a href="{}">{}</a>', url, movement.product)

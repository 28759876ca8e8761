from django.contrib import admin

from products.models import Product, StockMovement


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "sku", "price", "quantity_in_stock", "is_active"]
    search_fields = ["name", "sku"]
    list_filter = ["is_active"]


@admin.register(StockMovement)
class StockMovementAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "product",
        "delta",
        "reason",
        "order_id",
        "actor",
        "quantity_after",
        "created_at",
    ]
    list_filter = ["reason"]

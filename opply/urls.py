"""URL routes. Paths are the contract of docs/api.md; the seed's paths are fixed."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from accounts.auth import ThrottledAdminAuthenticationForm
from accounts.views import TokenView
from events.views import EventViewSet, WebhookEndpointViewSet
from opply.views import HealthView, IndexView, ReadyView, RedocView, SwaggerView
from orders.views import OrderViewSet, ProductCartViewSet
from products.views import ProductViewSet

admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.site_header = "opply administration"
admin.site.site_title = "opply admin"

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("products", ProductCartViewSet, basename="product-cart")
router.register("orders", OrderViewSet, basename="order")
router.register("events", EventViewSet, basename="event")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("", IndexView.as_view(), name="index"),
    path("token/", TokenView.as_view(), name="token"),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("readyz", ReadyView.as_view(), name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    path("", include(router.urls)),
]

handler400 = "opply.exceptions.bad_request"
handler403 = "opply.exceptions.permission_denied"
handler404 = "opply.exceptions.page_not_found"
handler500 = "opply.exceptions.server_error"

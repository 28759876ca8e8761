"""Catalogue endpoints: thin views over products' selectors and services."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from opply.conditional import (
    conditional,
    conditional_rendered,
    if_match,
    none_match,
    version_etag,
)
from opply.filters import unfiltered
from opply.idempotency import idempotent
from opply.limits import ID_PATTERN
from opply.pagination import PageNumberPagination
from opply.permissions import IsStaffOrReadOnly
from opply.prepared import PreparedPages, PreparedRead
from opply.renderers import FastJSONRenderer
from opply.schema import (
    ETAG,
    IF_MATCH,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    PRECONDITION_FAILED,
    error,
)
from opply.viewsets import ListFilteredViewSet
from products import selectors, services
from products.counts import (
    catalogue_count,
    catalogue_counts_remembered,
    catalogue_etag,
    catalogue_marker,
)
from products.filters import ProductFilter
from products.models import Product
from products.serializers import (
    PRODUCT_ROW,
    ProductSerializer,
    StockMovementSerializer,
    product_row_json,
)

# A product among those the caller may see, by id: SQL built once per connection.
_PRODUCT_DETAIL = {
    staff: PreparedRead(
        f"product-detail-{staff}",
        lambda pk, staff=staff: (
            selectors.products_visible(staff=staff).filter(pk=pk).values_list(*PRODUCT_ROW)
        ),
        int,
    )
    for staff in (False, True)
}
# The catalogue as its FilterSet narrows a list request without filter input, for staff or
# not: its SQL built once per connection and page size, the OFFSET a parameter.
_CATALOGUE = {
    staff: PreparedRead(
        f"catalogue-{staff}",
        lambda staff=staff: unfiltered(
            ProductFilter, selectors.products_visible(staff=staff)
        ).values_list(*PRODUCT_ROW),
    )
    for staff in (False, True)
}

# Query parameters that choose a page, not the rows: the rest decide the catalogue's count.
_PAGE_PARAMETERS = ("page", "page_size")


class CataloguePagination(PageNumberPagination):
    """The catalogue's pages, with its count remembered while the catalogue is unchanged
    (products/counts.py); every other list (a product's ledger) counts as usual."""

    count_key: tuple[Any, ...] | None = None
    marker: str | None = None  # the catalogue marker the list request read

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.count_key = None
        if getattr(view, "action", None) == "list" and catalogue_counts_remembered():
            self.count_key = (
                bool(getattr(request.user, "is_staff", False)),
                tuple(
                    sorted(
                        (name, tuple(values))
                        for name, values in request.query_params.lists()
                        if name not in _PAGE_PARAMETERS
                    )
                ),
            )
        return super().paginate_queryset(queryset, request, view)

    def django_paginator_class(self, object_list: Any, per_page: int) -> Paginator:  # type: ignore[override]
        paginator = Paginator(object_list, per_page)
        if self.count_key is not None:
            paginator.count = catalogue_count(self.count_key, object_list.count, self.marker)
        return paginator


_WRITE = (
    "A new `quantity_in_stock` is recorded in the ledger as an adjustment. The quantity rules "
    "must stay coherent: `min_order_quantity` and `max_order_quantity` multiples of "
    "`order_increment`, max empty or at least min."
)


@extend_schema_view(
    list=extend_schema(
        summary="List products",
        description=(
            "Paginated and ordered by id unless `ordering` says otherwise (ties broken by id). "
            "Buyers see active products only. An invalid filter value is a 400 naming it. "
            "Each page carries a weak ETag of its content."
        ),
        responses={200: ProductSerializer(many=True), 304: NOT_MODIFIED},
        parameters=[
            IF_NONE_MATCH,
            ETAG,
            OpenApiParameter(
                "search", OpenApiTypes.STR, description="Part of the name or sku, any case."
            ),
            OpenApiParameter(
                "in_stock",
                OpenApiTypes.BOOL,
                description="`true`: stock above 0; `false`: out of stock.",
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="Get one product",
        description='Served with `ETag: "<version>"`.',
        parameters=[IF_NONE_MATCH, ETAG],
        responses={200: ProductSerializer, 304: NOT_MODIFIED},
    ),
    update=extend_schema(
        summary="Replace a product (staff)",
        description=_WRITE,
        parameters=[IF_MATCH, ETAG],
        responses={200: ProductSerializer, 412: PRECONDITION_FAILED},
    ),
    partial_update=extend_schema(
        summary="Update a product (staff)",
        description=_WRITE,
        parameters=[IF_MATCH, ETAG],
        responses={200: ProductSerializer, 412: PRECONDITION_FAILED},
    ),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ListFilteredViewSet[Product],
):
    """The catalogue. Everyone signed in reads it; only staff change it."""

    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    lookup_value_regex = ID_PATTERN
    pagination_class = CataloguePagination
    renderer_classes = [FastJSONRenderer, BrowsableAPIRenderer]

    def get_queryset(self) -> QuerySet[Product]:
        return selectors.product_list_visible(user=self.request.user)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.action == "list":
            return conditional_rendered(request, response)
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        staff = bool(getattr(request.user, "is_staff", False))
        found = _PRODUCT_DETAIL[staff].rows(int(kwargs["pk"]))
        if not found:
            raise Http404
        response = Response(product_row_json(found[0]))
        return conditional(request, response, version_etag(found[0][PRODUCT_ROW.index("version")]))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The page's ETag from the catalogue marker, before any query: a client that holds
        # it gets its 304 without the page being read (products/counts.py). Its key holds
        # all the page depends on: the caller kind, the origin its links are written with,
        # the format, the parameters. A `*` waits for the page, which may not exist. The
        # page's count goes by the same read of the marker.
        marker = catalogue_marker()
        etag = catalogue_etag(
            (
                bool(getattr(request.user, "is_staff", False)),
                request.build_absolute_uri("/"),
                getattr(request.accepted_renderer, "format", None),
                tuple(
                    sorted((name, tuple(values)) for name, values in request.query_params.lists())
                ),
            ),
            marker,
        )
        if etag is not None and none_match(request, etag, star=False):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        # Rows read as values: the page's JSON without a model instance per product. Without
        # filter input, by the prepared statement of the same queryset.
        products: Any
        if self.unfiltered_list():
            products = PreparedPages(_CATALOGUE[bool(getattr(request.user, "is_staff", False))])
        else:
            products = self.filter_queryset(self.get_queryset()).values_list(*PRODUCT_ROW)
        pagination = self.paginator
        assert isinstance(pagination, CataloguePagination)
        pagination.marker = marker
        page = self.paginate_queryset(products)
        response = self.get_paginated_response([product_row_json(row) for row in page or ()])
        if etag is not None:
            response["ETag"] = etag
        return response

    @extend_schema(
        summary="Create a product (staff)",
        description="Its initial stock is recorded in the ledger.",
        parameters=[ETAG],
        responses={201: ProductSerializer},
    )
    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ProductSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(actor=request.user, **serializer.validated_data)
        return Response(
            ProductSerializer(product).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": version_etag(product.version)},
        )

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = ProductSerializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        product = services.product_update(
            product_id=instance.pk,
            actor=request.user,
            if_match=if_match(request),
            **serializer.validated_data,
        )
        return Response(
            ProductSerializer(product).data, headers={"ETag": version_etag(product.version)}
        )

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(
        summary="Delete a product (staff)",
        parameters=[IF_MATCH],
        responses={
            204: None,
            409: error("`protected`: an order still refers to it; deactivate it instead."),
            412: PRECONDITION_FAILED,
        },
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.product_delete(product_id=self.get_object().pk, if_match=if_match(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A product's stock ledger (staff)",
        description="Every change of the product's stock, newest first.",
        filters=False,
        responses={200: StockMovementSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], permission_classes=[IsAdminUser])
    def stock_movements(self, request: Request, pk: str | None = None) -> Response:
        movements = selectors.stock_movement_list(product_id=self.get_object().pk)
        page = self.paginate_queryset(movements)  # type: ignore[arg-type]
        return self.get_paginated_response(StockMovementSerializer(page, many=True).data)

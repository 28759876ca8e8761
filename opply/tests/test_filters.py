"""A request without filter input is told apart by the filter set's own form, and is
narrowed as the filter set narrows it."""

from types import SimpleNamespace

import django_filters
import pytest
from django import forms
from django.http import QueryDict

from opply.filters import FilterSet, filter_input_absent, unfiltered
from orders.filters import OrderFilter
from orders.models import Order
from orders.tests.factories import OrderFactory
from products.filters import ProductFilter
from products.models import Product

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["", "page=2", "page=2&page_size=5", "format=json&x=1"])
def test_parameters_no_filter_reads_are_no_input(query):
    assert filter_input_absent(ProductFilter, QueryDict(query))
    assert filter_input_absent(OrderFilter, QueryDict(query))


@pytest.mark.parametrize(
    "query",
    [
        "search=",
        "search=oats",
        "in_stock=maybe",
        "min_price=abc",
        "ordering=name",
        "page=2&x=&ordering=",
    ],
)
def test_any_filter_parameter_is_input_even_empty_or_invalid(query):
    assert not filter_input_absent(ProductFilter, QueryDict(query))


@pytest.mark.parametrize("query", ["status=", "all=true", "user=1", "po_number=PO-1"])
def test_any_order_filter_parameter_is_input(query):
    assert not filter_input_absent(OrderFilter, QueryDict(query))


class _PriceRange(django_filters.FilterSet):
    price = django_filters.RangeFilter()

    class Meta:
        model = Product
        fields = ["price"]


def test_a_widget_that_reads_suffixed_keys_is_asked_for_its_own():
    assert filter_input_absent(_PriceRange, QueryDict("price=3"))
    assert not filter_input_absent(_PriceRange, QueryDict("price_min=3"))
    assert not filter_input_absent(_PriceRange, QueryDict("price_max=3"))


class _OwnForm(forms.Form):
    pass


class _WithOwnForm(django_filters.FilterSet):
    class Meta:
        model = Product
        fields = ["name"]
        form = _OwnForm


class _RequiredName(django_filters.FilterSet):
    name = django_filters.CharFilter(required=True)

    class Meta:
        model = Product
        fields = ["name"]


def test_a_form_of_its_own_or_one_invalid_when_empty_is_never_skipped():
    assert not filter_input_absent(_WithOwnForm, QueryDict(""))
    assert not filter_input_absent(_RequiredName, QueryDict(""))
    with pytest.raises(ValueError, match="refuses empty input"):
        unfiltered(_RequiredName, Product.objects.all())


def test_unfiltered_is_the_filter_sets_answer_to_parameters_without_input():
    products = Product.objects.filter(is_active=True).order_by("id")
    through_the_form = ProductFilter(QueryDict("page=3&x=1"), queryset=products)
    assert through_the_form.is_valid()

    assert str(unfiltered(ProductFilter, products).query) == str(through_the_form.qs.query)


def test_unfiltered_orders_are_the_callers_own_as_the_filter_set_has_it(buyer, other_buyer):
    mine = OrderFactory(user=buyer)
    OrderFactory(user=other_buyer)
    request = SimpleNamespace(user=buyer)
    through_the_form = OrderFilter(
        QueryDict("page=1"), queryset=Order.objects.all(), request=request
    )
    assert through_the_form.is_valid()

    narrowed = unfiltered(OrderFilter, Order.objects.all(), request)

    assert str(narrowed.query) == str(through_the_form.qs.query)
    assert list(narrowed) == [mine]


def test_the_form_class_is_built_once_and_each_form_has_fields_of_its_own():
    products = Product.objects.all()
    wrong = ProductFilter(QueryDict("min_price=abc"), queryset=products)
    right = ProductFilter(QueryDict("min_price=3&search=oats"), queryset=products)

    assert type(wrong.form) is type(right.form)
    assert wrong.form.fields["min_price"] is not right.form.fields["min_price"]
    assert not wrong.is_valid()
    assert right.is_valid()
    assert list(wrong.errors) == ["min_price"]
    assert right.form.cleaned_data["search"] == "oats"


class _ByOwner(FilterSet):
    """A filter whose choices depend on the request."""

    order = django_filters.ModelChoiceFilter(
        queryset=lambda request: Order.objects.filter(user_id=request.user.pk)
    )

    class Meta:
        model = Order
        fields = ["order"]


def test_a_filter_set_whose_fields_depend_on_the_request_builds_its_form_per_request(
    buyer, other_buyer
):
    mine, theirs = OrderFactory(user=buyer), OrderFactory(user=other_buyer)
    orders = Order.objects.all()

    def narrowed(user, pk):
        filterset = _ByOwner(
            QueryDict(f"order={pk}"), queryset=orders, request=SimpleNamespace(user=user)
        )
        return filterset.is_valid(), type(filterset.form)

    (buyers_valid, buyers_form), (others_valid, others_form) = (
        narrowed(buyer, mine.pk),
        narrowed(other_buyer, mine.pk),
    )
    assert (buyers_valid, others_valid) == (True, False)
    assert buyers_form is not others_form
    assert narrowed(other_buyer, theirs.pk)[0]

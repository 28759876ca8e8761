"""A multipart body must be a complete multipart message: garbage is a 400, never obeyed."""

import pytest

from orders.models import Order

pytestmark = pytest.mark.django_db

MULTIPART = "multipart/form-data; boundary=xyz"
QUANTITY_3 = b'--xyz\r\nContent-Disposition: form-data; name="quantity"\r\n\r\n3\r\n--xyz--\r\n'


def add(client, product, body: bytes, content_type: str = MULTIPART):
    return client.generic(
        "POST", f"/products/{product.pk}/add_to_order/", body, content_type=content_type
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"garbage", id="no-boundary-at-all"),
        pytest.param(b"--other\r\n\r\nx\r\n--other--\r\n", id="another-boundary"),
        pytest.param(QUANTITY_3[: -len(b"\r\n--xyz--\r\n")], id="cut-before-the-close"),
        pytest.param(QUANTITY_3[:20], id="cut-in-the-headers"),
    ],
)
def test_a_malformed_multipart_body_is_400_and_changes_nothing(buyer_api, product, body):
    response = add(buyer_api, product, body)

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert not Order.objects.filter(lines__isnull=False).exists()


def test_multipart_without_a_boundary_parameter_is_400(buyer_api, product):
    response = add(buyer_api, product, QUANTITY_3, content_type="multipart/form-data")

    assert response.status_code == 400
    assert not Order.objects.filter(lines__isnull=False).exists()


def test_a_well_formed_multipart_body_is_obeyed(buyer_api, product):
    response = add(buyer_api, product, QUANTITY_3)

    assert response.status_code == 200
    assert response.json()["items"][0]["quantity"] == 3


def test_an_empty_multipart_form_means_the_defaults(buyer_api, product):
    response = add(buyer_api, product, b"--xyz--\r\n")

    assert response.status_code == 200
    assert response.json()["items"][0]["quantity"] == 1


def test_the_test_clients_own_multipart_still_works(staff_api):
    response = staff_api.post(
        "/products/",
        {"name": "Flour", "price": "2.00", "quantity_in_stock": "5"},
        format="multipart",
    )

    assert response.status_code == 201

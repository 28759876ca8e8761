"""Sessions, authentication and messages run for the admin and for browsers with a session
cookie; token clients skip them, and everything each of them relies on still holds."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_token_client_gets_no_session_machinery(buyer_api, product):
    response = buyer_api.get("/products/")
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == product.pk
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "_messages")
    assert response.wsgi_request.user == buyer_api.user  # set by DRF, for the access log
    assert not response.cookies


def test_a_browser_signed_in_by_session_reads_the_api(buyer, product):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(buyer)
    response = browser.get("/products/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == product.pk
    assert response.wsgi_request.session.session_key


def test_a_session_write_without_its_csrf_token_is_refused(buyer, product):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(buyer)
    response = browser.post(f"/products/{product.pk}/add_to_order/", {"quantity": 1})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not buyer.orders.exists()


def test_the_admin_keeps_sessions_and_csrf(staff):
    browser = Client(enforce_csrf_checks=True)
    assert browser.get("/admin/").status_code == 302
    login = browser.get("/admin/login/")
    assert login.status_code == 200
    assert "csrftoken" in login.cookies
    refused = browser.post("/admin/login/", {"username": "staff", "password": "x"})
    assert refused.status_code == 403
    browser.force_login(staff)
    assert browser.get("/admin/").status_code == 200

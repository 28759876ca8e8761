"""The failed-login throttle guards every password check, and tokens are for superusers only."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.tests.test_tokens import get_token
from orders.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

THREE_PER_MINUTE = override_settings(THROTTLE_LOGIN_RATE="3/min")


def admin_login(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


@THREE_PER_MINUTE
def test_admin_login_is_throttled_like_the_api_and_shares_its_count():
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client()
    for n in range(2):
        assert admin_login(client, "boss", f"guess{n}").status_code == 200
    get_token(APIClient(), "boss", "guess-api")

    refused = admin_login(client, "boss", PASSWORD)

    assert refused.status_code == 200
    assert b"Too many failed logins" in refused.content
    assert "_auth_user_id" not in client.session
    assert get_token(APIClient(), "boss", PASSWORD).status_code == 429


@THREE_PER_MINUTE
def test_admin_login_with_the_right_password_is_not_counted():
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    for _ in range(5):
        client = Client()
        assert admin_login(client, "boss", PASSWORD).status_code == 302
        assert "_auth_user_id" in client.session


def test_staff_with_token_permissions_cannot_see_or_create_tokens():
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    Token.objects.create(user=superuser)
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(content_type__app_label="authtoken"))
    client = Client()
    client.force_login(clerk)

    listing = client.get("/admin/authtoken/tokenproxy/")
    creating = client.post("/admin/authtoken/tokenproxy/add/", {"user": superuser.pk})

    assert listing.status_code == 403
    assert creating.status_code == 403
    assert Token.objects.count() == 1


def test_superusers_manage_tokens_in_the_admin(admin_client):
    response = admin_client.get("/admin/authtoken/tokenproxy/")

    assert response.status_code == 200

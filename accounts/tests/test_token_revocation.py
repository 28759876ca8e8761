"""A password change or a deactivation, by any way in, ends the user's tokens."""

from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.services import token_get_or_create
from orders.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-long-passphrase-42"


def token_works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/orders/").status_code == 200


def test_set_password_and_save_revokes_the_token(buyer):
    key = token_get_or_create(user=buyer).key

    buyer.set_password(NEW_PASSWORD)
    buyer.save()

    assert not token_works(key)
    assert not Token.objects.filter(user=buyer).exists()


def test_deactivation_revokes_the_token(buyer):
    key = token_get_or_create(user=buyer).key

    buyer.is_active = False
    buyer.save(update_fields=["is_active"])

    assert not Token.objects.filter(key=key).exists()


def test_changepassword_command_revokes_the_token(buyer):
    token_get_or_create(user=buyer)

    with mock.patch("getpass.getpass", return_value=NEW_PASSWORD):
        call_command("changepassword", buyer.username, stdout=StringIO())

    assert not Token.objects.filter(user=buyer).exists()


def test_the_admins_password_form_revokes_the_token(admin_client, buyer):
    token_get_or_create(user=buyer)
    url = reverse("admin:auth_user_password_change", args=[buyer.pk])

    response = admin_client.post(
        url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )

    assert response.status_code == 302
    buyer.refresh_from_db()
    assert buyer.check_password(NEW_PASSWORD)
    assert not Token.objects.filter(user=buyer).exists()


def test_a_new_login_after_the_change_issues_a_new_working_key(api, buyer):
    old = token_get_or_create(user=buyer).key
    buyer.set_password(NEW_PASSWORD)
    buyer.save()

    response = api.post("/token/", {"username": buyer.username, "password": NEW_PASSWORD})

    assert response.status_code == 200
    assert response.json()["token"] != old
    assert token_works(response.json()["token"])


def test_other_saves_keep_the_token(buyer, django_assert_num_queries):
    key = token_get_or_create(user=buyer).key
    buyer.first_name = "Renamed"
    buyer.save()
    again = User.objects.get(pk=buyer.pk)
    with django_assert_num_queries(1):  # a login's last_login update: no extra query
        again.save(update_fields=["last_login"])

    assert token_works(key)


def test_other_users_tokens_are_untouched(buyer):
    other = UserFactory(username="bystander")
    kept = token_get_or_create(user=other).key
    token_get_or_create(user=buyer)

    buyer.set_password(NEW_PASSWORD)
    buyer.save()

    assert token_works(kept)

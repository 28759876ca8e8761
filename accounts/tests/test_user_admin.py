"""The user admin: only superusers hand out privileges, to others or to themselves."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from orders.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_manager(db):
    """Staff holding only auth.change_user (and so view_user)."""
    user = UserFactory(username="manager", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_user"))
    return user


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_form(user: User, **changes) -> dict:
    form = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    form.update(changes)
    return form


ESCALATION = {
    "is_superuser": "on",
    "is_staff": "on",
}


def escalation(group: Group) -> dict:
    permission = Permission.objects.get(codename="delete_user")
    return {**ESCALATION, "groups": [group.pk], "user_permissions": [permission.pk]}


def test_staff_with_change_user_cannot_make_themselves_superuser(user_manager):
    group = Group.objects.create(name="admins")
    client = client_for(user_manager)
    url = reverse("admin:auth_user_change", args=[user_manager.pk])

    response = client.post(url, change_form(user_manager, first_name="Me", **escalation(group)))

    assert response.status_code == 302  # the rest of the form was saved
    user_manager.refresh_from_db()
    assert user_manager.first_name == "Me"
    assert not user_manager.is_superuser
    assert list(user_manager.groups.all()) == []
    assert list(user_manager.user_permissions.values_list("codename", flat=True)) == ["change_user"]


def test_staff_with_change_user_cannot_grant_privileges_to_another_user(user_manager, buyer):
    group = Group.objects.create(name="admins")
    url = reverse("admin:auth_user_change", args=[buyer.pk])

    response = client_for(user_manager).post(url, change_form(buyer, **escalation(group)))

    assert response.status_code == 302
    buyer.refresh_from_db()
    assert (buyer.is_superuser, buyer.is_staff, buyer.groups.count()) == (False, False, 0)
    assert buyer.user_permissions.count() == 0


def test_the_privilege_fields_are_shown_read_only_to_staff(user_manager):
    url = reverse("admin:auth_user_change", args=[user_manager.pk])

    page = client_for(user_manager).get(url).content.decode()

    assert 'name="is_superuser"' not in page
    assert 'name="user_permissions"' not in page
    assert 'name="first_name"' in page


def test_staff_cannot_change_a_superusers_account_or_password(user_manager, admin_user):
    client = client_for(user_manager)
    change = reverse("admin:auth_user_change", args=[admin_user.pk])
    password = reverse("admin:auth_user_password_change", args=[admin_user.pk])

    form = client.post(change, change_form(admin_user, first_name="Hijacked"))
    new_password = client.post(
        password, {"password1": "x-Long-pass-1", "password2": "x-Long-pass-1"}
    )

    assert (form.status_code, new_password.status_code) == (403, 403)
    admin_user.refresh_from_db()
    assert admin_user.first_name != "Hijacked"
    assert not admin_user.check_password("x-Long-pass-1")


def test_a_superuser_can_grant_privileges(admin_client, buyer):
    group = Group.objects.create(name="admins")
    url = reverse("admin:auth_user_change", args=[buyer.pk])

    response = admin_client.post(url, change_form(buyer, **escalation(group)))

    assert response.status_code == 302
    buyer.refresh_from_db()
    assert (buyer.is_superuser, buyer.is_staff, buyer.groups.count()) == (True, True, 1)


def test_staff_with_change_group_cannot_add_permissions_to_a_group(user_manager):
    user_manager.user_permissions.add(Permission.objects.get(codename="change_group"))
    group = Group.objects.create(name="buyers")
    user_manager.groups.add(group)
    permission = Permission.objects.get(codename="delete_user")
    url = reverse("admin:auth_group_change", args=[group.pk])

    response = client_for(user_manager).post(
        url, {"name": "buyers", "permissions": [permission.pk]}
    )

    assert response.status_code == 302
    assert group.permissions.count() == 0

"""Back-office test helpers: users with a role, signed in."""

import pytest
from django.contrib.auth.models import Group, User

from campuspass.backoffice.roles import ROLES, ensure_groups
from tests.conftest import pass_second_factor


@pytest.fixture
def make_user(db):
    ensure_groups()

    def make(role: str | None, username: str | None = None, password: str = "pw-Test-1234") -> User:  # noqa: S107
        name = username or f"user-{role or 'none'}"
        user = User.objects.create_user(
            username=name, password=password, is_staff=False, first_name=role or ""
        )
        if role:
            assert role in ROLES
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def office_client(client, make_user):
    """A test client signed in with the given role: office_client("审核员")."""

    def sign_in(role: str | None, username: str | None = None):
        user = make_user(role, username)
        client.force_login(user)
        pass_second_factor(client, user)
        return client, user

    return sign_in

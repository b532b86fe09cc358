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


@pytest.fixture
def objects(make_user):
    """One object of each kind the back-office URLs take an id of (the role matrix and the
    hostile-input walk fill URLs with them)."""
    from campuspass.core.audit import log_action
    from campuspass.renewals.models import Refund, RejectReason
    from tests.renewals.factories import make_campaign

    from .test_review import paid_order

    campaign = make_campaign()
    order = paid_order(campaign)
    refund = Refund.objects.create(
        payment=order.applied_payment(),
        order=order,
        out_refund_no=f"RM{order.pk}",
        amount_fen=order.paid_amount_fen,
        reason="测试",
    )
    reason = RejectReason.objects.create(text="照片不清晰")
    user = make_user(None, "someone")
    entry = log_action(actor=None, action="test.matrix", obj=order)
    return {
        "order": order.pk,
        "refund": refund.pk,
        "reason": reason.pk,
        "consent": campaign.current_consent().pk,
        "campaign": campaign.pk,
        "user": user.pk,
        "staff": order.staff_id,
        "vehicle": order.vehicle_id,
        "pass": order.previous_pass_id,
        "entry": entry.pk,
        "holiday": 1,
    }

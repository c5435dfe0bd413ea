"""The notifications service's credential (role notifier) reads applicants' contacts for notifications and
nothing else; staff roles are left to each service's own rules (services/shared/auth/access.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.shared.auth import Principal, Role, TokenSigner
from services.shared.auth.access import contact_refusal, reads_any_dossier, staff_refusal
from services.shared.personal_data.purposes import Purpose

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NOTIFIER = Principal(credential_id="n-1", subject="notifications", role=Role.NOTIFIER)
STAFF = [
    Principal(credential_id="c-1", subject="clerk-0042", role=Role.POST_OFFICE, post_office="100000"),
    Principal(credential_id="a-1", subject="officer-7", role=Role.AGENCY, agency="000.00.01.H22"),
    Principal(credential_id="o-1", subject="ops-1", role=Role.OPERATOR),
]


def test_a_notifier_credential_verifies_bound_to_no_post_office_or_agency() -> None:
    signer = TokenSigner("s" * 32)
    issued, token = signer.issue(
        subject="notifications", role=Role.NOTIFIER, scope=None, now=NOW, valid_for=timedelta(days=1)
    )

    principal = signer.verify(token, now=NOW)

    assert principal == issued
    assert (principal.role, principal.scope) == (Role.NOTIFIER, None)


def test_the_notifier_reads_contacts_for_notifications() -> None:
    assert contact_refusal(NOTIFIER, Purpose.NOTIFICATIONS) is None
    assert reads_any_dossier(NOTIFIER)


@pytest.mark.parametrize("purpose", [p for p in Purpose if p is not Purpose.NOTIFICATIONS])
def test_the_notifier_is_refused_a_contact_for_any_other_purpose(purpose: Purpose) -> None:
    refusal = contact_refusal(NOTIFIER, purpose)

    assert refusal is not None
    assert "notifications only" in refusal


def test_the_notifier_is_refused_every_staff_endpoint() -> None:
    assert staff_refusal(NOTIFIER) is not None


@pytest.mark.parametrize("caller", STAFF, ids=lambda p: p.role.value)
def test_staff_are_left_to_each_services_own_rules(caller: Principal) -> None:
    assert staff_refusal(caller) is None
    assert all(contact_refusal(caller, purpose) is None for purpose in Purpose)


def test_clerks_and_officers_read_contacts_within_their_scope_and_operators_any() -> None:
    assert [reads_any_dossier(caller) for caller in STAFF] == [False, False, True]

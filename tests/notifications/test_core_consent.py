"""Consent: the channels the applicant chose at intake travel in the intake event (no personal data: only
which channels), the e-mail address stays in the owner's vault with the rest of the contact. No choice, no
message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from contracts.enums import FilingChannel, NotificationChannel
from contracts.events import ApplicantContact, DossierAcceptedV2, DossierRegisteredForReturnV2
from contracts.events.parts import Address
from services.agency import commands as agency_commands
from services.agency.domain import Actor, compose_registration
from services.notifications.domain import Consent, consent_of
from services.notifications.ports import Channel
from services.post_office import domain as post_office
from services.post_office.commands import AcceptDossier
from services.shared.calendar import load_calendar
from services.shared.catalog import load_catalog
from services.shared.personal_data.phone_check import PhoneDigest
from services.shared.postal_limits import load_route_limits
from tests.post_office.helpers import acceptance

DIGEST = PhoneDigest([b"notifications-consent-tests-lookup-key"])
EMAIL = "an.nguyen@example.vn"


def _accepted(body: dict[str, object]) -> DossierAcceptedV2:
    outcome = post_office.accept_dossier(
        AcceptDossier.model_validate(body),
        existing=None,
        catalog=load_catalog(),
        calendar=load_calendar(),
        limits=load_route_limits(),
        phone_check=DIGEST,
    )
    assert isinstance(outcome, post_office.Recorded)
    event = outcome.envelope.data
    assert isinstance(event, DossierAcceptedV2)
    return event


def _with_email(body: dict[str, object]) -> dict[str, object]:
    applicant = dict(body["applicant"])  # type: ignore[call-overload]
    return body | {"applicant": applicant | {"email": EMAIL}}


def test_the_counter_records_the_channels_the_applicant_chose() -> None:
    body = _with_email(acceptance("EB123456785VN", notify_by=["EMAIL", "SMS"]))

    event = _accepted(body)

    assert event.notify_by == (NotificationChannel.EMAIL, NotificationChannel.SMS)
    assert EMAIL not in event.model_dump_json(), "the address stays in the vault, never in the event"


def test_an_applicant_who_chose_nothing_is_recorded_so() -> None:
    event = _accepted(acceptance("EB123456785VN"))

    assert event.notify_by == ()
    assert consent_of(event.notify_by) == Consent(frozenset())


def test_consent_to_email_without_an_address_is_refused_at_the_counter() -> None:
    with pytest.raises(ValidationError, match="e-mail"):
        AcceptDossier.model_validate(acceptance("EB123456785VN", notify_by=["EMAIL"]))


def test_an_intake_event_of_before_the_choice_existed_still_reads_and_means_no_consent() -> None:
    event = _accepted(acceptance("EB123456785VN"))
    old = event.model_dump(mode="json")
    del old["notify_by"]

    read = DossierAcceptedV2.model_validate(old)

    assert read.notify_by is None
    assert consent_of(read.notify_by) == Consent(frozenset())


def test_the_agency_desk_records_the_channels_the_applicant_chose() -> None:
    registration = agency_commands.RegisterForReturn(
        agency_dossier_code="000.00.01.H22-260302-0001",
        procedure_code="1.001193",
        filing_channel=FilingChannel.IN_PERSON,
        filed_at=datetime(2026, 3, 2, 9, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
        applicant=ApplicantContact(
            name="Nguyễn Văn An",
            phone="0912345678",
            email=EMAIL,
            address=Address(line="12 Phố Tràng Tiền", commune="Phường Hoàn Kiếm", province_code="01"),
        ),
        delivery_address=Address(line="12 Phố Tràng Tiền", commune="Phường Hoàn Kiếm", province_code="01"),
        notify_by=(NotificationChannel.ZALO, NotificationChannel.EMAIL),
    )

    event = compose_registration(registration, Actor("000.00.01.H22", "officer-0003"), DIGEST)

    assert isinstance(event, DossierRegisteredForReturnV2)
    assert event.notify_by == (NotificationChannel.ZALO, NotificationChannel.EMAIL)
    assert consent_of(event.notify_by) == Consent(frozenset({Channel.ZALO, Channel.EMAIL}))

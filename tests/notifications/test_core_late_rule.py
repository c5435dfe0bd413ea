"""The late-stage rule, as data beside the templates: a stage the tracker publishes late is sent only
where it still helps, never when it would contradict a message already sent for a later stage."""

from __future__ import annotations

import pytest

from services.notifications.domain import Kind, late_message_helps
from services.notifications.templates import load_late_rule

RULE = load_late_rule()


@pytest.mark.parametrize(
    ("kind", "already_sent", "helps"),
    [
        # Nothing later said yet: the late message still tells the citizen something true and new.
        (Kind.ACCEPTED, set(), True),
        (Kind.RECEIVED, {Kind.ACCEPTED}, True),
        # The agency's receipt learned after the result was announced: its due date is moot.
        (Kind.RECEIVED, {Kind.ACCEPTED, Kind.RESULT_READY}, False),
        (Kind.ACCEPTED, {Kind.RECEIVED}, False),
        # A supplement request learned late still says what to bring, until the dossier is decided.
        (Kind.SUPPLEMENT_REQUESTED, {Kind.RECEIVED}, True),
        (Kind.SUPPLEMENT_REQUESTED, {Kind.RESULT_READY}, False),
        (Kind.SUPPLEMENT_REQUESTED, {Kind.CLOSED_NO_SUPPLEMENT}, False),
        # A new date is always worth knowing until the result is ready (Decree 118/2025 Art. 19(6)).
        (Kind.DELAY_NOTICE, {Kind.RECEIVED, Kind.SUPPLEMENT_REQUESTED}, True),
        (Kind.DELAY_NOTICE, {Kind.RESULT_READY}, False),
        # "Ready" after "out for delivery" or "delivered" would send the citizen to the wrong place.
        (Kind.RESULT_READY, {Kind.OUT_FOR_DELIVERY}, False),
        (Kind.RESULT_READY, {Kind.RECEIVED}, True),
        (Kind.OUT_FOR_DELIVERY, {Kind.DELIVERED}, False),
        (Kind.OUT_FOR_DELIVERY, {Kind.DELIVERY_FAILED}, False),
        (Kind.DELIVERY_FAILED, {Kind.DELIVERED}, False),
        (Kind.DELIVERY_FAILED, {Kind.RETURNED_TO_AGENCY}, False),
        (Kind.DELIVERY_FAILED, {Kind.OUT_FOR_DELIVERY}, True),
        # The end of the journey is always told, whatever came before.
        (Kind.DELIVERED, {Kind.DELIVERY_FAILED, Kind.RETURNED_TO_AGENCY}, True),
        (Kind.RETURNED_TO_AGENCY, {Kind.DELIVERY_FAILED}, True),
        (Kind.CLOSED_NO_SUPPLEMENT, {Kind.SUPPLEMENT_REQUESTED}, True),
        (Kind.RETURNED_TO_AGENCY, {Kind.DELIVERED}, False),
    ],
)
def test_a_late_stage_is_sent_only_where_it_still_helps(
    kind: Kind, already_sent: set[Kind], helps: bool
) -> None:
    assert late_message_helps(kind, frozenset(already_sent), RULE) is helps


def test_the_rule_names_every_citizen_message_and_only_known_ones() -> None:
    from services.notifications.domain import CITIZEN_KINDS

    assert set(RULE) == CITIZEN_KINDS
    for superseded_by in RULE.values():
        assert superseded_by <= CITIZEN_KINDS

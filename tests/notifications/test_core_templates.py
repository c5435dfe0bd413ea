"""The messages' wording as data: one file per message kind and channel, Vietnamese with its diacritics,
every placeholder filled from what the service knows, every SMS within the segments its file declares."""

from __future__ import annotations

import string
import unicodedata

import pytest

from services.notifications.domain import CITIZEN_KINDS, DESK_KINDS, PARAMETERS, Kind
from services.notifications.ports import Channel
from services.notifications.sms_encoding import sms_encoding
from services.notifications.templates import load_templates

BOOK = load_templates()

# The longest values each parameter takes in practice: an S10 id or an agency dossier code of its
# maximum length, a date, a list of documents as the catalog names them.
LONGEST = {
    "dossier_ref": "000.00.01.H22-250314-0001",
    "post_office": "100000",
    "agency": "000.00.01.H22",
    "accepted_on": "14/03/2025",
    "due_date": "19/03/2025",
    "received_on": "19/03/2025",
    "legal_due_date": "02/04/2025",
    "appointment_date": "02/04/2025",
    "documents": "Tờ khai đăng ký khai sinh; Giấy chứng sinh",
    "reason": "Thiếu bản sao giấy tờ tùy thân",
    "previous_due_date": "02/04/2025",
    "new_due_date": "16/04/2025",
    "attempt": "2",
    "next_attempt": "ngày 21/03/2025",
    "delivered_on": "20/03/2025",
    "closed_on": "05/04/2025",
    "leg": "xử lý tại cơ quan",
}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_citizen_message_has_an_email_and_an_sms_wording() -> None:
    for kind in CITIZEN_KINDS:
        assert BOOK.get(kind, Channel.EMAIL) is not None, kind
        assert BOOK.get(kind, Channel.SMS) is not None, kind


def test_the_agency_desk_is_written_to_by_email() -> None:
    assert {Kind.CLOCK_DUE_SOON, Kind.CLOCK_OVERDUE} == DESK_KINDS
    for kind in DESK_KINDS:
        assert BOOK.get(kind, Channel.EMAIL) is not None, kind


@pytest.mark.parametrize("template", BOOK.all(), ids=lambda t: t.id)
def test_every_placeholder_is_a_parameter_the_service_fills(template) -> None:  # type: ignore[no-untyped-def]
    used = _placeholders(template.body) | _placeholders(template.subject or "")
    assert used <= PARAMETERS[template.kind], used - PARAMETERS[template.kind]
    rendered = template.render({name: LONGEST[name] for name in PARAMETERS[template.kind]})
    assert "{" not in rendered.body and "}" not in rendered.body


@pytest.mark.parametrize("template", BOOK.all(), ids=lambda t: t.id)
def test_wording_is_vietnamese_with_its_diacritics_in_composed_form(template) -> None:  # type: ignore[no-untyped-def]
    text = (template.subject or "") + template.body
    assert unicodedata.is_normalized("NFC", text)
    assert "hồ sơ" in text.lower(), "every message names the dossier (hồ sơ) with its diacritics"
    assert "\ufffd" not in text  # no character lost to a wrong encoding


@pytest.mark.parametrize("template", BOOK.for_channel(Channel.SMS), ids=lambda t: t.id)
def test_sms_fits_the_segments_its_file_declares(template) -> None:  # type: ignore[no-untyped-def]
    rendered = template.render({name: LONGEST[name] for name in PARAMETERS[template.kind]})
    encoding = sms_encoding(rendered.body)
    assert encoding.encoding == template.encoding
    assert encoding.segments <= template.max_segments, (encoding, rendered.body)
    if template.encoding == "GSM-7":
        assert encoding.segments == 1


def test_an_email_has_a_subject_and_an_sms_has_none() -> None:
    for template in BOOK.for_channel(Channel.EMAIL):
        assert template.subject
    for template in BOOK.for_channel(Channel.SMS):
        assert template.subject is None

"""Validated value types: identifiers and codes of the domain, usable as pydantic field annotations.

Each type is a plain ``str`` (or ``int``) on the wire and in Python, checked and normalised on
validation. Error messages say what is wrong without repeating the value: some of these (phone
numbers) are personal data, and validation errors end up in logs and dead-letter headers.

The JSON Schema of each type describes the canonical wire form (what producers must emit); the
Python validators are more lenient with hand-typed input (case, spaces, phone prefixes).
"""

from __future__ import annotations

import enum
import functools
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from functools import partial
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# --- UPU S10 postal item id -------------------------------------------------------------------------

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
_LETTERS2 = re.compile(r"[A-Z]{2}")
_DIGITS8 = re.compile(r"[0-9]{8}")


def s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an 8-digit serial number: 11 − (Σ weight × digit mod 11), 10 → 0, 11 → 5."""
    if not _DIGITS8.fullmatch(serial):
        raise ValueError("an S10 serial number is exactly 8 digits")
    check = 11 - sum(w * int(d) for w, d in zip(S10_WEIGHTS, serial, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


class S10Error(enum.StrEnum):
    """Each way an item id typed by a clerk can be wrong: the error type pydantic reports, and the
    `reason` the APIs answer, so a client can tell the clerk which part of the label to read again."""

    LENGTH = "item_id_length"
    SERVICE_INDICATOR = "item_id_service_indicator"
    SERIAL = "item_id_serial"
    CHECK_DIGIT = "item_id_check_digit"
    COUNTRY_CODE = "item_id_country_code"


S10_ERROR_CODES = frozenset(code.value for code in S10Error)
"""The error types of an invalid S10 item id (every other validation error has pydantic's own type)."""


def _s10_error(code: S10Error, message: str) -> PydanticCustomError:
    # A ValueError subclass, so plain callers catch it as before; inside a pydantic model its type is
    # the code. The message has no {placeholders}: pydantic would format them.
    return PydanticCustomError(code.value, message)


def parse_s10(text: str) -> str:
    """Check an S10 item id and return it in canonical form (upper case, no surrounding spaces).

    Raises a ValueError whose pydantic type is one of S10Error, with a sentence for a post office clerk.
    """
    return _parse_s10(text)


# Every event of an item carries its id, and a consumer decodes thousands a second: the ids checked
# lately are remembered (an invalid one raises, and is never remembered).
@functools.lru_cache(maxsize=32_768)
def _parse_s10(text: str) -> str:
    value = text.strip().upper()
    if len(value) != 13:
        raise _s10_error(
            S10Error.LENGTH,
            "An item number has 13 characters, like EB123456785VN: 2 letters, 9 digits and 2 letters; "
            f"this one has {len(value)}. Check for a missing or extra character.",
        )
    prefix, serial, check, country = value[:2], value[2:10], value[10], value[11:]
    if not _LETTERS2.fullmatch(prefix):
        raise _s10_error(
            S10Error.SERVICE_INDICATOR,
            "An item number starts with 2 letters, the service code (like EB or RR); "
            "check the first 2 characters.",
        )
    if not _DIGITS8.fullmatch(serial):
        if any(c.isalpha() for c in serial):
            raise _s10_error(
                S10Error.SERIAL,
                "Characters 3 to 10 of an item number are 8 digits, but there is a letter among them: "
                "check for the letter O typed instead of the digit 0, or I instead of 1.",
            )
        raise _s10_error(
            S10Error.SERIAL,
            "Characters 3 to 10 of an item number are 8 digits; remove any space, dash or other sign.",
        )
    if not ("0" <= check <= "9"):
        raise _s10_error(
            S10Error.CHECK_DIGIT, "The check digit of an item number (character 11) must be a digit."
        )
    if not _LETTERS2.fullmatch(country):
        raise _s10_error(
            S10Error.COUNTRY_CODE,
            "An item number ends with 2 letters, the country code (VN for Vietnam); "
            "check the last 2 characters.",
        )
    # The expected digit is not told: a clerk who mistyped a serial digit could "correct" the check
    # digit instead and record the dossier under another item's number.
    if int(check) != s10_check_digit(serial):
        raise _s10_error(
            S10Error.CHECK_DIGIT,
            "The check digit of this item number (character 11) does not match its other digits: "
            "a digit was probably mistyped. Read the number on the label again.",
        )
    return value


def make_s10(prefix: str, serial: str | int, country: str = "VN") -> str:
    """Build a valid S10 item id from a service indicator and a serial number (for simulators and tests)."""
    digits = f"{serial:08d}" if isinstance(serial, int) else serial
    return parse_s10(f"{prefix}{digits}{s10_check_digit(digits)}{country}")


# The validators below call the lru caches themselves, not the documented wrappers: a cache hit is then a
# call into C, without a Python frame, for each identifier of each event a consumer decodes.
S10ItemId = Annotated[
    str,
    AfterValidator(_parse_s10),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[A-Z]{2}[0-9]{9}[A-Z]{2}$",
            "description": "UPU S10 postal item id: 2 letters, 8 digits, check digit, 2-letter country code.",
            "examples": ["EB123456785VN"],
        }
    ),
]


# --- Dossier id -----------------------------------------------------------------------------------

# Fixed for ever: every dossier id derived from an item id or an agency dossier code depends on it.
DOSSIER_NAMESPACE = uuid.UUID("c3be7fc2-1611-47d5-afc0-8a2c9318feca")


def _uuid_to_text(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


class _UuidAsTextInPython:
    """Before the str check, a ``uuid.UUID`` given in Python becomes its text.

    JSON has no UUID values, only text: JSON input skips the call into Python that would hand it back
    unchanged (consumers validate the dossier id of every event they decode from JSON).
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        text = handler(source)
        return core_schema.json_or_python_schema(
            json_schema=text,
            python_schema=core_schema.no_info_before_validator_function(_uuid_to_text, text),
        )


def parse_dossier_id(text: str) -> str:
    """Check a dossier id: a UUID in canonical form (lower case, hyphenated).

    Only the canonical form is accepted, not merely any spelling of the UUID: the id is the Kafka key,
    and two spellings of one UUID would hash to different partitions.
    """
    return _parse_dossier_id(text)


# Consumers check the dossier id of every event, and a dossier's events come close together.
@functools.lru_cache(maxsize=32_768)
def _parse_dossier_id(text: str) -> str:
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise ValueError("a dossier id is a UUID: 32 hexadecimal digits in groups 8-4-4-4-12") from None
    if str(parsed) != text:
        raise ValueError("a dossier id is written in canonical UUID form: lower case, hyphenated 8-4-4-4-12")
    return text


DossierId = Annotated[
    str,
    _UuidAsTextInPython(),
    AfterValidator(_parse_dossier_id),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uuid",
            "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            "description": "The dossier's id for its whole journey, the Kafka key: a lower-case UUID.",
        }
    ),
]


def dossier_id_for_item(item_id: str) -> str:
    """The dossier id of a dossier that entered by post: uuid5(namespace, inbound S10 item id).

    The post office derives it from the item id, so a retried acceptance gets the same id.
    """
    return str(uuid.uuid5(DOSSIER_NAMESPACE, parse_s10(item_id)))


def dossier_id_for_agency_code(code: str) -> str:
    """The dossier id of a dossier that entered at the agency (form RECEIVE_RESULT):
    uuid5(namespace, agency dossier code such as ``000.00.01.H22-250314-0007``)."""
    return str(uuid.uuid5(DOSSIER_NAMESPACE, parse_agency_dossier_code(code)))


# --- Agency codes ---------------------------------------------------------------------------------

_AGENCY_CODE = r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}"
_AGENCY_CODE_RE = re.compile(_AGENCY_CODE)
_AGENCY_DOSSIER_CODE_RE = re.compile(rf"(?P<agency>{_AGENCY_CODE})-(?P<day>[0-9]{{6}})-(?P<seq>[0-9]{{4}})")


def parse_agency_code(text: str) -> str:
    """Check an agency id of Circular 10/2016/TT-BTTTT, e.g. ``000.00.01.H22``."""
    return _parse_agency_code(text)


# Agencies are few and every agency event names one: the codes checked lately are remembered.
@functools.lru_cache(maxsize=4096)
def _parse_agency_code(text: str) -> str:
    value = text.strip().upper()
    if not _AGENCY_CODE_RE.fullmatch(value):
        raise ValueError(
            "an agency code (Circular 10/2016/TT-BTTTT) reads like 000.00.01.H22: 3 digits, 2 digits, "
            "2 digits and a letter with 2 digits, separated by dots"
        )
    return value


def parse_agency_dossier_code(text: str) -> str:
    """Check an agency dossier code ``<agency id>-<YYMMDD>-<daily sequence 0001–9999>``."""
    return _parse_agency_dossier_code(text)


# Each event of a dossier at its agency names its code, and a dossier's events come close together.
@functools.lru_cache(maxsize=16_384)
def _parse_agency_dossier_code(text: str) -> str:
    value = text.strip().upper()
    match = _AGENCY_DOSSIER_CODE_RE.fullmatch(value)
    if match is None:
        raise ValueError(
            "an agency dossier code reads like 000.00.01.H22-250314-0007: "
            "agency code, date YYMMDD and a 4-digit daily sequence, joined by dashes"
        )
    day = match["day"]
    try:
        date(2000 + int(day[:2]), int(day[2:4]), int(day[4:]))
    except ValueError:
        raise ValueError("the date part (YYMMDD) of an agency dossier code is not a real date") from None
    if match["seq"] == "0000":
        raise ValueError("the daily sequence of an agency dossier code runs from 0001 to 9999")
    return value


def make_agency_dossier_code(agency_code: str, day: date, sequence: int) -> str:
    """Build an agency dossier code (for simulators and tests)."""
    return parse_agency_dossier_code(f"{agency_code}-{day:%y%m%d}-{sequence:04d}")


AgencyCode = Annotated[
    str,
    AfterValidator(_parse_agency_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_AGENCY_CODE}$",
            "description": "Agency id per Circular 10/2016/TT-BTTTT.",
            "examples": ["000.00.01.H22"],
        }
    ),
]

AgencyDossierCode = Annotated[
    str,
    AfterValidator(_parse_agency_dossier_code),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": f"^{_AGENCY_CODE}-[0-9]{{6}}-[0-9]{{4}}$",
            "description": "The agency's dossier code: <agency id>-<YYMMDD>-<4-digit daily sequence>.",
            "examples": ["000.00.01.H22-250314-0007"],
        }
    ),
]


# --- Other codes ----------------------------------------------------------------------------------


def _code(pattern: str, message: str) -> AfterValidator:
    # Post office, facility and procedure codes are few and recur in every event: remembered per type.
    return AfterValidator(
        functools.lru_cache(maxsize=4096)(partial(_check_code, re.compile(pattern), message))
    )


def _check_code(pattern: re.Pattern[str], message: str, text: str) -> str:
    value = text.strip()
    if not pattern.fullmatch(value):
        raise ValueError(message)
    return value


ProcedureCode = Annotated[
    str,
    _code(
        r"[0-9]\.[0-9]{6}", "a procedure code (national procedure database) is a digit, a dot and 6 digits"
    ),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]\.[0-9]{6}$",
            "description": "Procedure code (mã TTHC) in the national procedure database.",
            "examples": ["1.001234"],
        }
    ),
]

PostOfficeCode = Annotated[
    str,
    _code(r"[0-9]{6}", "a post office code is the 6-digit postal code of the service point"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{6}$",
            "description": "VNPost 6-digit postal code of a service point or facility.",
            "examples": ["100000"],
        }
    ),
]

ProvinceCode = Annotated[
    str,
    _code(r"0[1-9]|[1-9][0-9]", "a province code is 2 digits from 01 to 99"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(0[1-9]|[1-9][0-9])$",
            "description": "2-digit province code.",
            "examples": ["01"],
        }
    ),
]


# --- Vietnamese phone numbers ---------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_MOBILE = re.compile(r"0[35789][0-9]{8}")
_LANDLINE = re.compile(r"02[0-9]{9}")


def parse_phone(text: str) -> str:
    """Normalise a Vietnamese phone number to its national form (0…).

    Accepts +84 / 84 / 0084 prefixes, spaces, dots, dashes and parentheses. Mobiles are 0[35789] and
    8 more digits; landlines are 02 and 9 more digits.
    """
    value = _PHONE_SEPARATORS.sub("", text)
    if value.startswith("+84"):
        value = "0" + value[3:]
    elif value.startswith("0084"):
        value = "0" + value[4:]
    elif value.startswith("84") and len(value) in (11, 12):
        value = "0" + value[2:]
    if not value.isascii() or not value.isdigit():
        raise ValueError(
            "a phone number holds only digits, with an optional +84 prefix, spaces, dots or dashes"
        )
    if not (_MOBILE.fullmatch(value) or _LANDLINE.fullmatch(value)):
        raise ValueError(
            "a Vietnamese phone number is a mobile 0[35789] + 8 digits (10 in all) or a landline "
            f"02 + 9 digits (11 in all); this one has {len(value)} digits in national form"
        )
    return value


VnPhoneNumber = Annotated[
    str,
    AfterValidator(parse_phone),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^(0[35789][0-9]{8}|02[0-9]{9})$",
            "description": "Vietnamese phone number in national form: mobile (10 digits) or landline (11).",
            "examples": ["0912345678"],
        }
    ),
]


# --- Small shared shapes --------------------------------------------------------------------------

Vnd = Annotated[int, Field(ge=0, description="An amount in Vietnamese đồng (integer, no minor unit).")]
"""An amount of money in VND."""

StaffId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")
]
"""The internal id of a clerk, courier, postal worker or agency officer (never a name)."""

RecordId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")
]
"""The number of a signed paper record: handover record, pickup slip, return record."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
"""Free text written by staff: a reason, a document name."""


# --- Times ----------------------------------------------------------------------------------------

VIETNAM_OFFSET = timezone(timedelta(hours=7), "+07:00")
"""Vietnam's offset, UTC+7 without daylight saving since 1975: every fact of this system happens there."""

RFC3339_VIETNAM = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?\+07:00$"
"""What a written time looks like: RFC 3339 with seconds and the explicit offset +07:00."""


def in_vietnam_time(moment: datetime) -> datetime:
    """The same instant in Vietnam time; a naive datetime is refused, its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time needs a UTC offset; a naive time is ambiguous")
    return moment.astimezone(VIETNAM_OFFSET)


def rfc3339(moment: datetime) -> str:
    """How every API and event writes a time: RFC 3339 with the offset +07:00, e.g.
    2025-03-14T09:30:00+07:00."""
    return in_vietnam_time(moment).isoformat()


def _has_a_vietnam_date(moment: datetime) -> datetime:
    if 1 < moment.year < 9999:
        # A UTC offset is less than a day: the date in Vietnam is in a year from 1 to 9999. Converting
        # costs a call into the tzinfo, for every time of every event a consumer decodes.
        return moment
    try:
        moment.astimezone(VIETNAM_OFFSET)
    except OverflowError:
        # 0001-01-01T00:00+14:00 or 9999-12-31T23:30Z: no date in Vietnam, so no day to count from.
        raise PydanticCustomError(
            "time_out_of_range", "the time has no date in Vietnam (year 1 to 9999)"
        ) from None
    return moment


AwareTime = Annotated[
    AwareDatetime,
    AfterValidator(_has_a_vietnam_date),
    PlainSerializer(in_vietnam_time, return_type=datetime, when_used="json"),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": RFC3339_VIETNAM}, mode="serialization"
    ),
]
"""A point in time. Read with any UTC offset (a naive time is refused: pydantic's ``timezone_aware``
error, which the HTTP APIs answer as 422 ``time_without_offset``; one with no date in Vietnam,
``time_out_of_range``); written as RFC 3339 in Vietnam
time, ``+07:00``, whatever offset it was read with. The Python value, and ``model_dump()`` in Python
mode, keep the offset it came with: only the written form changes."""

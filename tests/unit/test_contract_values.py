"""Value types: postal item ids, dossier ids, agency and procedure codes, phone numbers."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.values import (
    S10_ERROR_CODES,
    AgencyCode,
    AgencyDossierCode,
    DossierId,
    PostOfficeCode,
    ProcedureCode,
    ProvinceCode,
    S10ItemId,
    VnPhoneNumber,
    dossier_id_for_agency_code,
    dossier_id_for_item,
    make_agency_dossier_code,
    make_s10,
    parse_s10,
    s10_check_digit,
)


def valid(annotation: Any, value: object) -> Any:
    return TypeAdapter(annotation).validate_python(value)


def error_of(annotation: Any, value: object) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(annotation).validate_python(value)
    return str(caught.value.errors()[0]["msg"])


# --- S10 item ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("item_id", ["RR473124829GB", "EB123456785VN", "CP000000005VN"])
def test_s10_item_id_with_the_right_check_digit_is_valid(item_id: str) -> None:
    assert valid(S10ItemId, item_id) == item_id


@pytest.mark.parametrize(
    ("serial", "check_digit"),
    [
        ("47312482", 9),  # sum 200, 200 mod 11 = 2, 11 - 2 = 9
        ("12345678", 5),
        ("00000000", 5),  # 11 - 0 = 11 → 5
        ("00060000", 0),  # sum 12, 12 mod 11 = 1, 11 - 1 = 10 → 0
    ],
)
def test_check_digit_follows_the_upu_weights_and_special_cases(serial: str, check_digit: int) -> None:
    assert s10_check_digit(serial) == check_digit


@pytest.mark.parametrize(
    ("item_id", "code", "says"),
    [
        ("EB12345678VN", "item_id_length", "has 12"),
        ("EB1234567855VN", "item_id_length", "has 14"),
        ("", "item_id_length", "has 0"),
        ("12123456785VN", "item_id_service_indicator", "first 2 characters"),
        ("E3123456785VN", "item_id_service_indicator", "first 2 characters"),
        ("EB12A456785VN", "item_id_serial", "a letter"),
        ("EB1234O6785VN", "item_id_serial", "letter O"),
        ("EB12-456785VN", "item_id_serial", "8 digits"),
        ("EB12345678XVN", "item_id_check_digit", "character 11"),
        ("EB123456786VN", "item_id_check_digit", "does not match"),
        ("EB12345678512", "item_id_country_code", "country code"),
        ("EB123456785V1", "item_id_country_code", "country code"),
    ],
)
def test_each_way_an_item_id_can_be_wrong_has_its_own_code_and_a_plain_message(
    item_id: str, code: str, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(S10ItemId).validate_python(item_id)
    (error,) = caught.value.errors()
    assert error["type"] == code
    assert says in error["msg"]
    assert error["type"] in S10_ERROR_CODES


def test_a_wrong_check_digit_is_refused_without_telling_the_digit_that_would_pass() -> None:
    # Told "expected 5", a clerk who mistyped a serial digit could "fix" the check digit instead and
    # record the dossier under another item's id.
    message = error_of(S10ItemId, "EB123456786VN")
    assert "5" not in message and "6" not in message


def test_the_message_never_repeats_the_item_id_typed() -> None:
    for typed in ("EB12345678VN", "EB12A456785VN", "EB123456786VN", "EB12345678512"):
        assert typed not in error_of(S10ItemId, typed)


def test_an_invalid_item_id_is_still_a_value_error_for_plain_callers() -> None:
    with pytest.raises(ValueError, match="13 characters"):
        parse_s10("EB12")


@pytest.mark.parametrize("item_id", ["EB12345678VN", "EB1234567855VN", ""])
def test_item_id_of_the_wrong_length_is_refused_saying_so(item_id: str) -> None:
    assert "13 characters" in error_of(S10ItemId, item_id)


def test_lower_case_item_id_typed_by_hand_is_normalised_to_upper_case() -> None:
    assert valid(S10ItemId, "  rr473124829gb ") == "RR473124829GB"


def test_make_s10_builds_a_valid_item_id_from_a_serial_number() -> None:
    assert make_s10("EB", "12345678") == "EB123456785VN"
    assert make_s10("rr", 47312482, country="gb") == "RR473124829GB"
    assert make_s10("EB", 42) == "EB000000425VN"  # 4×9 + 2×7 = 50, 50 mod 11 = 6, 11 − 6 = 5


def test_check_digit_needs_exactly_eight_digits() -> None:
    with pytest.raises(ValueError, match="8 digits"):
        s10_check_digit("1234567")


# --- Dossier ids ----------------------------------------------------------------------------------


def test_dossier_id_of_an_item_is_the_same_on_every_retry_and_spelling() -> None:
    first = dossier_id_for_item("EB123456785VN")
    assert first == dossier_id_for_item(" eb123456785vn")
    assert first == str(uuid.UUID(first))
    assert first != dossier_id_for_item("RR473124829GB")


def test_dossier_id_of_an_agency_dossier_code_is_deterministic_and_differs_per_dossier() -> None:
    first = dossier_id_for_agency_code("000.00.01.H22-250314-0007")
    assert first == dossier_id_for_agency_code("000.00.01.H22-250314-0007")
    assert first != dossier_id_for_agency_code("000.00.01.H22-250314-0008")


def test_dossier_id_accepts_the_canonical_form_and_uuid_objects() -> None:
    value = uuid.uuid4()
    assert valid(DossierId, str(value)) == str(value)
    assert valid(DossierId, value) == str(value)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("C3BE7FC2-1611-47D5-AFC0-8A2C9318FECA", "canonical"),
        ("c3be7fc2161147d5afc08a2c9318feca", "canonical"),
        ("not-a-uuid", "32 hexadecimal digits"),
    ],
)
def test_dossier_id_refuses_other_spellings_because_it_is_the_partition_key(
    text: str, complaint: str
) -> None:
    assert complaint in error_of(DossierId, text)


# --- Agency, procedure, post office and province codes --------------------------------------------


@pytest.mark.parametrize("code", ["000.00.01.H22", "000.00.00.G06", " 000.00.01.h22 "])
def test_agency_code_of_circular_10_2016_is_valid(code: str) -> None:
    assert valid(AgencyCode, code) == code.strip().upper()


@pytest.mark.parametrize("code", ["000.00.01.22", "00.00.01.H22", "000-00-01-H22", "000.00.01.HH2"])
def test_malformed_agency_code_is_refused(code: str) -> None:
    assert "agency code" in error_of(AgencyCode, code)


def test_agency_dossier_code_joins_agency_date_and_daily_sequence() -> None:
    assert valid(AgencyDossierCode, "000.00.01.H22-250314-0007") == "000.00.01.H22-250314-0007"
    assert make_agency_dossier_code("000.00.01.H22", date(2025, 3, 14), 7) == "000.00.01.H22-250314-0007"


def test_agency_dossier_code_with_an_impossible_date_is_refused() -> None:
    assert "not a real date" in error_of(AgencyDossierCode, "000.00.01.H22-250230-0007")


def test_agency_dossier_code_with_sequence_zero_is_refused() -> None:
    assert "0001 to 9999" in error_of(AgencyDossierCode, "000.00.01.H22-250314-0000")


@pytest.mark.parametrize("code", ["000.00.01.H22-250314-007", "000.00.01.H22-2503140007", "250314-0007"])
def test_malformed_agency_dossier_code_is_refused(code: str) -> None:
    assert "agency dossier code" in error_of(AgencyDossierCode, code)


@pytest.mark.parametrize(
    ("annotation", "good", "bad", "complaint"),
    [
        (ProcedureCode, "1.001234", "1.01234", "procedure code"),
        (ProcedureCode, "2.000908", "12.000908", "procedure code"),
        (PostOfficeCode, "100000", "10000", "6-digit"),
        (ProvinceCode, "01", "00", "01 to 99"),
        (ProvinceCode, "79", "7", "01 to 99"),
    ],
)
def test_codes_accept_their_format_and_refuse_others(
    annotation: Any, good: str, bad: str, complaint: str
) -> None:
    assert valid(annotation, good) == good
    assert complaint in error_of(annotation, bad)


# --- Phone numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "national"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("091-234-5678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084 912 345 678", "0912345678"),
        ("0387654321", "0387654321"),
        ("(028) 3823 4567", "02838234567"),
        ("+84 28 3823 4567", "02838234567"),
        ("842838234567", "02838234567"),
    ],
)
def test_vietnamese_phone_numbers_are_normalised_to_national_form(typed: str, national: str) -> None:
    assert valid(VnPhoneNumber, typed) == national


@pytest.mark.parametrize(
    "typed",
    [
        "091234567",
        "09123456789",
        "0112345678",
        "0412345678",
        "0212345678",
        "+1 212 555 0100",
        "09l2345678",
        "",
    ],
)
def test_phone_numbers_that_are_not_vietnamese_mobiles_or_landlines_are_refused(typed: str) -> None:
    message = error_of(VnPhoneNumber, typed)
    assert "phone number" in message
    digits = "".join(c for c in typed if c.isdigit())
    assert not digits or digits not in message, "the message must not repeat the number (personal data)"


# --- What the person who typed a value reads -----------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        (
            "EB12345678VN",
            "An item number has 13 characters, like EB123456785VN: 2 letters, 9 digits and 2 letters; "
            "this one has 12. Check for a missing or extra character.",
        ),
        (
            "E3123456785VN",
            "An item number starts with 2 letters, the service code (like EB or RR); "
            "check the first 2 characters.",
        ),
        (
            "EB1234O6785VN",
            "Characters 3 to 10 of an item number are 8 digits, but there is a letter among them: "
            "check for the letter O typed instead of the digit 0, or I instead of 1.",
        ),
        (
            "EB12-456785VN",
            "Characters 3 to 10 of an item number are 8 digits; remove any space, dash or other sign.",
        ),
        ("EB12345678XVN", "The check digit of an item number (character 11) must be a digit."),
        (
            "EB12345678512",
            "An item number ends with 2 letters, the country code (VN for Vietnam); "
            "check the last 2 characters.",
        ),
        (
            "EB123456786VN",
            "The check digit of this item number (character 11) does not match its other digits: "
            "a digit was probably mistyped. Read the number on the label again.",
        ),
    ],
)
def test_a_clerk_reads_one_whole_sentence_for_each_way_an_item_id_is_wrong(typed: str, sentence: str) -> None:
    # The sentence is the `detail` of the API's 422: the clerk reads it at the counter.
    assert error_of(S10ItemId, typed) == sentence


@pytest.mark.parametrize(
    ("annotation", "typed", "sentence"),
    [
        (DossierId, "not-a-uuid", "a dossier id is a UUID: 32 hexadecimal digits in groups 8-4-4-4-12"),
        (
            DossierId,
            "C3BE7FC2-1611-47D5-AFC0-8A2C9318FECA",
            "a dossier id is written in canonical UUID form: lower case, hyphenated 8-4-4-4-12",
        ),
        (
            AgencyCode,
            "000.00.01.22",
            "an agency code (Circular 10/2016/TT-BTTTT) reads like 000.00.01.H22: 3 digits, 2 digits, "
            "2 digits and a letter with 2 digits, separated by dots",
        ),
        (
            AgencyDossierCode,
            "250314-0007",
            "an agency dossier code reads like 000.00.01.H22-250314-0007: "
            "agency code, date YYMMDD and a 4-digit daily sequence, joined by dashes",
        ),
        (
            AgencyDossierCode,
            "000.00.01.H22-250230-0007",
            "the date part (YYMMDD) of an agency dossier code is not a real date",
        ),
        (
            AgencyDossierCode,
            "000.00.01.H22-250314-0000",
            "the daily sequence of an agency dossier code runs from 0001 to 9999",
        ),
        (
            VnPhoneNumber,
            "09l2345678",
            "a phone number holds only digits, with an optional +84 prefix, spaces, dots or dashes",
        ),
        (
            VnPhoneNumber,
            "091234567",
            "a Vietnamese phone number is a mobile 0[35789] + 8 digits (10 in all) or a landline "
            "02 + 9 digits (11 in all); this one has 9 digits in national form",
        ),
    ],
)
def test_a_refused_value_is_explained_in_one_sentence_without_repeating_it(
    annotation: Any, typed: str, sentence: str
) -> None:
    assert error_of(annotation, typed) == f"Value error, {sentence}"


def test_check_digit_of_a_serial_that_is_not_eight_digits_is_refused_saying_so() -> None:
    with pytest.raises(ValueError) as refused:
        s10_check_digit("1234567")
    assert str(refused.value) == "an S10 serial number is exactly 8 digits"


def test_item_id_whose_check_digit_is_zero_is_valid() -> None:
    # 00060000: sum 12, 11 - 1 = 10 → 0.
    assert valid(S10ItemId, "EB000600000VN") == "EB000600000VN"


@pytest.mark.parametrize(
    "code",
    [
        "000.00.01.H22-200229-0001",  # 29 February of a leap year (2020, not 2200)
        "000.00.01.H22-251231-0001",  # 31 December
        "000.00.01.H22-250310-0001",  # a day ending in 0
    ],
)
def test_agency_dossier_code_dated_on_any_real_day_is_valid(code: str) -> None:
    assert valid(AgencyDossierCode, code) == code


@pytest.mark.parametrize("code", ["000.00.01.H22-250231-0001", "000.00.01.H22-210229-0001"])
def test_agency_dossier_code_dated_on_a_day_that_does_not_exist_is_refused(code: str) -> None:
    assert "not a real date" in error_of(AgencyDossierCode, code)


@pytest.mark.parametrize(
    ("annotation", "typed"),
    [(ProcedureCode, " 1.001234 "), (PostOfficeCode, "100000 "), (ProvinceCode, " 79")],
)
def test_codes_typed_with_spaces_around_them_are_trimmed(annotation: Any, typed: str) -> None:
    assert valid(annotation, typed) == typed.strip()

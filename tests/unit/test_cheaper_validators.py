"""The value types' validators made cheaper for decoding judge every value as before, in both modes.

Times in years 2 to 9998 skip the conversion to Vietnam time; codes are checked through caches of
the values seen lately; a dossier id read from JSON skips the call that turns a uuid.UUID into text.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from contracts.values import (
    AgencyCode,
    AgencyDossierCode,
    AwareTime,
    DossierId,
    PostOfficeCode,
    ProcedureCode,
    S10ItemId,
)

TIME = TypeAdapter(AwareTime)


@pytest.mark.parametrize(
    ("text", "has_a_vietnam_date"),
    # Python converts through UTC: a time before 0001-01-01T00:00Z has no date in Vietnam either.
    [
        ("0001-01-01T00:00:00+07:00", False),
        ("0001-01-01T07:00:00+07:00", True),
        ("0001-01-01T00:00:00-01:00", True),
        ("0002-01-01T00:00:00+14:00", True),
        ("0002-01-01T00:00:00-12:00", True),
        ("9998-12-31T23:59:59-12:00", True),
        ("9998-12-31T23:59:59+14:00", True),
        ("9999-12-31T16:59:59+00:00", True),
        ("9999-12-31T17:00:00+00:00", False),
        ("9999-12-31T23:59:59+07:00", True),
    ],
)
def test_a_time_at_the_edges_of_the_calendar_is_judged_by_its_date_in_vietnam(
    text: str, has_a_vietnam_date: bool
) -> None:
    for value, validate in ((text, TIME.validate_python), (f'"{text}"', TIME.validate_json)):
        if has_a_vietnam_date:
            assert validate(value).isoformat() == text
        else:
            with pytest.raises(ValidationError) as caught:
                validate(value)
            assert [e["type"] for e in caught.value.errors()] == ["time_out_of_range"]


@pytest.mark.parametrize(
    ("annotation", "valid", "invalid"),
    [
        (AgencyCode, " 000.00.01.h22 ", "000.00.01.22"),
        (AgencyDossierCode, "000.00.01.H22-250314-0007", "000.00.01.H22-250230-0007"),
        (PostOfficeCode, "100000", "10000"),
        (ProcedureCode, "1.001234", "1.00123"),
        (S10ItemId, "eb123456785vn", "EB123456786VN"),
        (DossierId, "c3be7fc2-1611-47d5-afc0-8a2c9318feca", "C3BE7FC2-1611-47D5-AFC0-8A2C9318FECA"),
    ],
)
def test_a_cached_check_answers_the_same_every_time_a_value_comes_back(
    annotation: Any, valid: str, invalid: str
) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(annotation)
    first = adapter.validate_python(valid)
    assert adapter.validate_python(valid) == first
    assert adapter.validate_json(f'"{valid}"') == first
    errors = []
    for value, validate in (
        (invalid, adapter.validate_python),
        (invalid, adapter.validate_python),
        (f'"{invalid}"', adapter.validate_json),
    ):
        with pytest.raises(ValidationError) as caught:
            validate(value)
        errors.append([(e["type"], e["msg"]) for e in caught.value.errors()])
    assert errors[0] == errors[1] == errors[2]


def test_a_dossier_id_is_text_in_json_and_a_uuid_or_text_in_python() -> None:
    adapter: TypeAdapter[str] = TypeAdapter(DossierId)
    value = uuid.UUID(int=2016)

    assert adapter.validate_python(value) == str(value)
    assert adapter.validate_json(f'"{value}"') == str(value)
    with pytest.raises(ValidationError) as from_python:
        adapter.validate_python(2016)
    with pytest.raises(ValidationError) as from_json:
        adapter.validate_json("2016")
    for caught in (from_python, from_json):
        assert [e["type"] for e in caught.value.errors()] == ["string_type"]

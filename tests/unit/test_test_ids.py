"""The tests' identifiers never repeat within a session (topics and tables outlive each test)."""

from __future__ import annotations

from contracts.values import parse_agency_dossier_code, parse_s10
from tests.post_office import helpers

DRAWS = 30_000  # more than a session uses, and three times the 9,999 sequences of one day


def test_agency_dossier_codes_never_repeat() -> None:
    codes = [helpers.new_agency_dossier_code() for _ in range(DRAWS)]
    assert len(set(codes)) == DRAWS
    assert all(parse_agency_dossier_code(code) == code for code in codes)


def test_item_ids_never_repeat() -> None:
    ids = [helpers.new_item_id() for _ in range(DRAWS)]
    assert len(set(ids)) == DRAWS
    assert all(parse_s10(item) == item for item in ids)

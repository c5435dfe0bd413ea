"""Bounded province labels for metrics: a post office or agency code → one of 34 province keys, or unknown.

The table is deploy/turnaround/provinces.yaml (see its header for the sources and the rules). A metric
label must never grow with the number of service points or agencies, so codes are mapped here and the
codes themselves never reach a label.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.shared.calendar import data_file, validation_messages

PROVINCES_ENV = "DOSSIER_PROVINCES"
DEFAULT_PROVINCES = Path("deploy/turnaround/provinces.yaml")
UNKNOWN = "unknown"


class ProvinceTableError(ValueError):
    """The province table is unreadable or malformed."""


class Province(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z_]*$", max_length=32)
    name: str = Field(min_length=1)
    postal_prefixes: tuple[str, ...] = ()
    agency_codes: tuple[str, ...] = ()


class ProvinceMap:
    """Lookups by post office code (its 2-digit prefix) and by agency code (its level-1 segment)."""

    def __init__(self, provinces: tuple[Province, ...]) -> None:
        self.provinces = provinces
        self._by_prefix = {p: prov.key for prov in provinces for p in prov.postal_prefixes}
        self._by_agency = {a: prov.key for prov in provinces for a in prov.agency_codes}

    def keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.provinces)

    def of_post_office(self, code: str | None) -> str | None:
        if not code or len(code) < 2:
            return None
        return self._by_prefix.get(code[:2])

    def of_agency(self, code: str | None) -> str | None:
        if not code:
            return None
        return self._by_agency.get(code.rsplit(".", 1)[-1])


def parse_provinces(raw: object, source: str = "provinces") -> ProvinceMap:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("provinces"), list):
        raise ProvinceTableError(f"{source}: top level must be a mapping with a 'provinces' list")
    errors: list[str] = []
    provinces: list[Province] = []
    seen_prefix: dict[str, str] = {}
    seen_agency: dict[str, str] = {}
    for index, entry in enumerate(raw["provinces"]):
        where = f"provinces[{index}]"
        try:
            province = Province.model_validate(entry)
        except ValidationError as exc:
            errors.extend(validation_messages(where, exc))
            continue
        if province.key == UNKNOWN or province.key in {p.key for p in provinces}:
            errors.append(f"{where}.key: {province.key!r} is reserved or listed twice")
        for prefix in province.postal_prefixes:
            if len(prefix) != 2 or not prefix.isdigit():
                errors.append(f"{where}.postal_prefixes: {prefix!r} is not two digits")
            elif prefix in seen_prefix:
                errors.append(f"{where}.postal_prefixes: {prefix} already belongs to {seen_prefix[prefix]}")
            seen_prefix[prefix] = province.key
        for code in province.agency_codes:
            if code in seen_agency:
                errors.append(f"{where}.agency_codes: {code} already belongs to {seen_agency[code]}")
            seen_agency[code] = province.key
        provinces.append(province)
    if errors:
        raise ProvinceTableError(f"{source}: " + "; ".join(errors))
    return ProvinceMap(tuple(provinces))


def load_provinces(path: Path | str | None = None) -> ProvinceMap:
    """Read the table (default: $DOSSIER_PROVINCES or deploy/turnaround/provinces.yaml)."""
    file = Path(path) if path is not None else data_file(PROVINCES_ENV, DEFAULT_PROVINCES)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProvinceTableError(f"{file}: cannot read the province table: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ProvinceTableError(f"{file}: not valid YAML: {exc}") from exc
    return parse_provinces(raw, source=str(file))

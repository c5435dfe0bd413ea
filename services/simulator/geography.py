"""Where the simulated day happens: six provinces, their post offices, sorting centres and agencies.

Codes are plausible samples, consistent with the configuration the services read: every post office
code starts with a postal prefix that deploy/turnaround/provinces.yaml maps to the province (so the
turnaround metrics label it correctly), province codes of addresses are the 2-digit administrative
codes, and the special cities are those of deploy/postal/route_limits.yaml (route classes follow). The
names are shown by the tracker's lookups through the office directory the local run writes
(`office_directory`). None of these codes is an official register entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from contracts.enums import RouteClass


class Reporting(StrEnum):
    """How an agency reports processing status."""

    DESK = "desk"
    """Officers at the one-stop desk use the agency service's HTTP API, as acts happen."""
    SYSTEM = "system"
    """The provincial one-stop information system publishes its reports on agency.intake.v1, in syncs
    that may come hours or days after the acts (the envelope's time is when the act happened)."""


class AgencyLevel(StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    COMMUNE = "commune"


@dataclass(frozen=True)
class PostOffice:
    code: str
    name: str
    commune: str
    offline_scanner: bool = False
    """Couriers of this office scan delivery rounds on an offline device, uploaded when back."""


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    level: AgencyLevel
    commune: str
    reporting: Reporting


@dataclass(frozen=True)
class Province:
    key: str
    name: str
    admin_code: str
    """2-digit administrative code (addresses' province_code)."""
    id_prefix: str
    """3-digit place code that starts a CCCD number issued to someone born there."""
    special_city: bool
    facility: PostOffice
    """The provincial sorting centre (trung tâm khai thác): transit scans, no counter."""
    post_offices: tuple[PostOffice, ...]
    agencies: tuple[Agency, ...]
    streets: tuple[str, ...]
    communes: tuple[str, ...]

    def agency(self, level: AgencyLevel) -> Agency | None:
        return next((a for a in self.agencies if a.level is level), None)


def _po(code: str, name: str, commune: str, offline: bool = False) -> PostOffice:
    return PostOffice(code, name, commune, offline)


PROVINCES: tuple[Province, ...] = (
    Province(
        key="ha_noi",
        name="Hà Nội",
        admin_code="01",
        id_prefix="001",
        special_city=True,
        facility=_po("100900", "Trung tâm khai thác Hà Nội (mẫu)", "Phường Long Biên"),
        post_offices=(
            _po("100000", "Bưu cục Hoàn Kiếm (mẫu)", "Phường Hoàn Kiếm"),
            _po("113000", "Bưu cục Cầu Giấy (mẫu)", "Phường Cầu Giấy"),
            _po("125000", "Bưu cục Sóc Sơn (mẫu)", "Xã Sóc Sơn", offline=True),
        ),
        agencies=(
            Agency(
                "000.00.00.G12",
                "Cục Cảnh sát quản lý hành chính về trật tự xã hội (mẫu)",
                AgencyLevel.CENTRAL,
                "Phường Hoàn Kiếm",
                Reporting.DESK,
            ),
            Agency(
                "000.00.01.H26",
                "Trung tâm Phục vụ hành chính công thành phố Hà Nội (mẫu)",
                AgencyLevel.PROVINCE,
                "Phường Cầu Giấy",
                Reporting.DESK,
            ),
            Agency(
                "000.01.11.H26",
                "UBND phường Hoàn Kiếm – Bộ phận Một cửa (mẫu)",
                AgencyLevel.COMMUNE,
                "Phường Hoàn Kiếm",
                Reporting.DESK,
            ),
        ),
        streets=("Phố Tràng Tiền", "Phố Hàng Bài", "Đường Cầu Giấy", "Phố Xuân Thủy", "Đường Láng"),
        communes=("Phường Hoàn Kiếm", "Phường Cầu Giấy", "Phường Ba Đình", "Phường Đống Đa", "Xã Sóc Sơn"),
    ),
    Province(
        key="ho_chi_minh",
        name="Hồ Chí Minh",
        admin_code="79",
        id_prefix="079",
        special_city=True,
        facility=_po("700900", "Trung tâm khai thác Hồ Chí Minh (mẫu)", "Phường Tân Sơn Nhất"),
        post_offices=(
            _po("700000", "Bưu điện Trung tâm Sài Gòn (mẫu)", "Phường Sài Gòn"),
            _po("720000", "Bưu cục Thủ Đức (mẫu)", "Phường Thủ Đức"),
            _po("750000", "Bưu cục Thủ Dầu Một (mẫu)", "Phường Thủ Dầu Một", offline=True),
        ),
        agencies=(
            Agency(
                "000.00.01.H29",
                "Trung tâm Phục vụ hành chính công Thành phố Hồ Chí Minh (mẫu)",
                AgencyLevel.PROVINCE,
                "Phường Sài Gòn",
                Reporting.SYSTEM,
            ),
            Agency(
                "000.02.11.H29",
                "UBND phường Sài Gòn – Bộ phận Một cửa (mẫu)",
                AgencyLevel.COMMUNE,
                "Phường Sài Gòn",
                Reporting.SYSTEM,
            ),
        ),
        streets=("Đường Đồng Khởi", "Đường Lê Lợi", "Đường Võ Văn Ngân", "Đường Nguyễn Huệ", "Đường 3/2"),
        communes=("Phường Sài Gòn", "Phường Thủ Đức", "Phường Bến Thành", "Phường Thủ Dầu Một"),
    ),
    Province(
        key="da_nang",
        name="Đà Nẵng",
        admin_code="48",
        id_prefix="048",
        special_city=True,
        facility=_po("500900", "Trung tâm khai thác Đà Nẵng (mẫu)", "Phường Hải Châu"),
        post_offices=(
            _po("500000", "Bưu điện Đà Nẵng (mẫu)", "Phường Hải Châu"),
            _po("510000", "Bưu cục Hội An (mẫu)", "Phường Hội An", offline=True),
        ),
        agencies=(
            Agency(
                "000.00.01.H17",
                "Trung tâm Hành chính công thành phố Đà Nẵng (mẫu)",
                AgencyLevel.PROVINCE,
                "Phường Hải Châu",
                Reporting.SYSTEM,
            ),
            Agency(
                "000.03.11.H17",
                "UBND phường Hải Châu – Bộ phận Một cửa (mẫu)",
                AgencyLevel.COMMUNE,
                "Phường Hải Châu",
                Reporting.DESK,
            ),
        ),
        streets=("Đường Bạch Đằng", "Đường Trần Phú", "Đường Nguyễn Văn Linh", "Đường Phan Châu Trinh"),
        communes=("Phường Hải Châu", "Phường Thanh Khê", "Phường Hội An", "Phường Sơn Trà"),
    ),
    Province(
        key="hue",
        name="Huế",
        admin_code="46",
        id_prefix="046",
        special_city=True,
        facility=_po("490900", "Trung tâm khai thác Huế (mẫu)", "Phường Thuận Hóa"),
        post_offices=(_po("490000", "Bưu điện Huế (mẫu)", "Phường Thuận Hóa"),),
        agencies=(
            Agency(
                "000.00.01.H57",
                "Trung tâm Phục vụ hành chính công thành phố Huế (mẫu)",
                AgencyLevel.PROVINCE,
                "Phường Thuận Hóa",
                Reporting.DESK,
            ),
            Agency(
                "000.04.11.H57",
                "UBND phường Thuận Hóa – Bộ phận Một cửa (mẫu)",
                AgencyLevel.COMMUNE,
                "Phường Thuận Hóa",
                Reporting.DESK,
            ),
        ),
        streets=("Đường Lê Lợi", "Đường Hùng Vương", "Đường Trần Hưng Đạo", "Đường Nguyễn Huệ"),
        communes=("Phường Thuận Hóa", "Phường Phú Xuân", "Phường Kim Long"),
    ),
    Province(
        key="quang_ninh",
        name="Quảng Ninh",
        admin_code="22",
        id_prefix="022",
        special_city=False,
        facility=_po("010900", "Trung tâm khai thác Quảng Ninh (mẫu)", "Phường Hạ Long"),
        post_offices=(
            _po("010000", "Bưu điện Hạ Long (mẫu)", "Phường Hạ Long"),
            _po("020000", "Bưu cục Móng Cái (mẫu)", "Phường Móng Cái 1", offline=True),
        ),
        agencies=(
            Agency(
                "000.00.01.H49",
                "Trung tâm Phục vụ hành chính công tỉnh Quảng Ninh (mẫu)",
                AgencyLevel.PROVINCE,
                "Phường Hạ Long",
                Reporting.SYSTEM,
            ),
            Agency(
                "000.05.11.H49",
                "UBND phường Hạ Long – Bộ phận Một cửa (mẫu)",
                AgencyLevel.COMMUNE,
                "Phường Hạ Long",
                Reporting.DESK,
            ),
        ),
        streets=("Đường Hạ Long", "Đường Trần Hưng Đạo", "Đường Hùng Vương", "Đường Lê Thánh Tông"),
        communes=("Phường Hạ Long", "Phường Bãi Cháy", "Phường Móng Cái 1", "Xã Quảng La"),
    ),
    Province(
        key="can_tho",
        name="Cần Thơ",
        admin_code="92",
        id_prefix="092",
        special_city=True,
        facility=_po("940900", "Trung tâm khai thác Cần Thơ (mẫu)", "Phường Ninh Kiều"),
        post_offices=(
            _po("940000", "Bưu điện Cần Thơ (mẫu)", "Phường Ninh Kiều"),
            _po("950000", "Bưu cục Sóc Trăng (mẫu)", "Phường Sóc Trăng", offline=True),
        ),
        agencies=(
            Agency(
                "000.00.01.H13",
                "Trung tâm Phục vụ hành chính công thành phố Cần Thơ (mẫu)",
                AgencyLevel.PROVINCE,
                "Phường Ninh Kiều",
                Reporting.SYSTEM,
            ),
            Agency(
                "000.06.11.H13",
                "UBND phường Ninh Kiều – Bộ phận Một cửa (mẫu)",
                AgencyLevel.COMMUNE,
                "Phường Ninh Kiều",
                Reporting.SYSTEM,
            ),
        ),
        streets=("Đường Hòa Bình", "Đường 30/4", "Đường Mậu Thân", "Đường Trần Văn Khéo"),
        communes=("Phường Ninh Kiều", "Phường Cái Khế", "Phường Sóc Trăng", "Xã Phong Điền"),
    ),
)

BY_KEY = {p.key: p for p in PROVINCES}
CAPITAL = BY_KEY["ha_noi"]
"""Central agencies sit in Hà Nội."""


def offices() -> Iterator[tuple[Province, PostOffice]]:
    """Every post office and sorting centre (each needs its own credential), with its province."""
    for province in PROVINCES:
        yield province, province.facility
        for office in province.post_offices:
            yield province, office


def agencies() -> Iterator[tuple[Province, Agency]]:
    for province in PROVINCES:
        for agency in province.agencies:
            yield province, agency


def province_of_office(code: str) -> Province:
    for province, office in offices():
        if office.code == code:
            return province
    raise KeyError(code)


def route_class(
    origin: Province, origin_commune: str, destination: Province, destination_commune: str
) -> RouteClass:
    """The route between two places, as Circular 17/2017 classes it (communes stand for districts)."""
    if origin.key == destination.key:
        return RouteClass.LOCAL if origin_commune == destination_commune else RouteClass.INTRA_PROVINCIAL
    if origin.special_city and destination.special_city:
        return RouteClass.BETWEEN_MAJOR_CITIES
    return RouteClass.INTER_PROVINCIAL


def office_directory() -> dict[str, dict[str, str]]:
    """Names by code in the tracker's office directory format (services/tracker/offices.yaml)."""
    return {
        "post_offices": {office.code: office.name for _, office in offices()},
        "agencies": {agency.code: agency.name for _, agency in agencies()},
    }

"""Fake but plausible Vietnamese applicants: names, mobile numbers, addresses and CCCD numbers.

Generated from a seeded random source; never anyone's real data (the e-mail addresses are under the
reserved .example domain, so no message could reach anyone). Family names follow their rough
national frequency (Nguyễn about a third), given names are split by the middle name's usual gender.
"""

from __future__ import annotations

import random
import unicodedata

from contracts.enums import NotificationChannel
from contracts.events.parts import Address, ApplicantContact
from services.simulator.geography import Province

FAMILY_NAMES: tuple[tuple[str, int], ...] = (
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Huỳnh", 4),
    ("Phan", 4),
    ("Vũ", 4),
    ("Võ", 3),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 2),
    ("Ngô", 2),
    ("Dương", 1),
    ("Lý", 1),
)
MALE = (
    ("Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Công", "Xuân"),
    ("An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Huy", "Khánh", "Long", "Nam", "Phong", "Quân",
     "Sơn", "Tâm", "Thắng", "Trung", "Tuấn", "Việt", "Vinh"),
)  # fmt: skip
FEMALE = (
    ("Thị", "Ngọc", "Thu", "Minh", "Thanh", "Hoài", "Bảo", "Kim"),
    ("Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga",
     "Nhung", "Phương", "Quỳnh", "Thảo", "Trang", "Vy", "Yến"),
)  # fmt: skip
MOBILE_PREFIXES = ("032", "034", "035", "036", "038", "070", "077", "079", "081", "083", "086", "088",
                   "090", "091", "093", "094", "096", "097", "098")  # fmt: skip


def full_name(rng: random.Random) -> str:
    family = rng.choices([n for n, _ in FAMILY_NAMES], weights=[w for _, w in FAMILY_NAMES])[0]
    middles, givens = MALE if rng.random() < 0.5 else FEMALE
    return f"{family} {rng.choice(middles)} {rng.choice(givens)}"


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10_000_000):07d}"


def address(rng: random.Random, province: Province, commune: str | None = None) -> Address:
    number = rng.randrange(1, 400)
    line = f"Số {number} {rng.choice(province.streets)}"
    if rng.random() < 0.3:
        line = f"Ngõ {rng.randrange(2, 200)}, {line}"
    return Address(
        line=line, commune=commune or rng.choice(province.communes), province_code=province.admin_code
    )


def cccd_number(rng: random.Random, province: Province) -> str:
    """12 digits: birthplace code, century-and-sex digit, year of birth, 6 random digits."""
    year = rng.randrange(1950, 2006)
    century_sex = (0 if year < 2000 else 2) + rng.randrange(2)
    return f"{province.id_prefix}{century_sex}{year % 100:02d}{rng.randrange(1_000_000):06d}"


def applicant(rng: random.Random, province: Province, *, with_id: bool) -> ApplicantContact:
    return ApplicantContact(
        name=full_name(rng),
        phone=mobile(rng),
        address=address(rng, province),
        id_number=cccd_number(rng, province) if with_id else None,
    )


SMS, ZALO, EMAIL = NotificationChannel.SMS, NotificationChannel.ZALO, NotificationChannel.EMAIL
CONSENTS: tuple[tuple[tuple[NotificationChannel, ...], int], ...] = (
    ((SMS,), 40),
    ((SMS, EMAIL), 10),
    ((SMS, ZALO), 6),
    ((ZALO,), 12),
    ((EMAIL,), 12),
    ((), 20),
)
"""The channels applicants tick at intake (`notify_by`), and how often: most take SMS, some Zalo or
e-mail alone, some more than one (the service uses the first of SMS, Zalo, e-mail), a fifth none."""
EMAIL_DOMAINS = ("mail.example", "thu.example", "hopthu.example")


def consent(rng: random.Random) -> tuple[NotificationChannel, ...]:
    return rng.choices([c for c, _ in CONSENTS], weights=[w for _, w in CONSENTS])[0]


def email(rng: random.Random, name: str) -> str:
    """An address as people make them from their name: given name, family name, a number."""
    plain = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    words = "".join(c for c in plain if not unicodedata.combining(c)).lower().split()
    return f"{words[-1]}{words[0]}{rng.randrange(70, 100)}@{rng.choice(EMAIL_DOMAINS)}"


def with_consent(
    rng: random.Random, contact: ApplicantContact
) -> tuple[ApplicantContact, tuple[NotificationChannel, ...]]:
    """The applicant's `notify_by` and, when it names e-mail, the address it needs (the post office and
    the agency refuse EMAIL without one); no address otherwise, as most forms are filled."""
    channels = consent(rng)
    if EMAIL in channels:
        contact = contact.model_copy(update={"email": email(rng, contact.name)})
    return contact, channels

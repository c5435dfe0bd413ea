"""What the agency keeps of a registration's personal data, and the operator's command of its vault:
``python -m services.agency.personal_data rotate`` (services/shared/personal_data/cli.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from contracts.events import Address, ApplicantContact
from services.agency.adapters.tables import personal_data_tables
from services.agency.settings import AgencySettings
from services.shared.personal_data import cli
from services.shared.personal_data.purposes import Purpose
from services.shared.personal_data.vault import Sealing

APPLICANT = "applicant"
DELIVERY_ADDRESS = "delivery_address"


def registration_records(applicant: ApplicantContact, delivery_address: Address) -> tuple[Sealing, ...]:
    """The citizen's contact (to tell them where the dossier stands and to reach them at the delivery)
    and the address the result goes to."""
    return (
        Sealing(
            kind=APPLICANT,
            purposes=(Purpose.NOTIFICATIONS, Purpose.RESULT_DELIVERY),
            data=applicant.model_dump(mode="json", exclude_none=True),
            phone=applicant.phone,
            id_number=applicant.id_number,
        ),
        Sealing(
            kind=DELIVERY_ADDRESS,
            purposes=(Purpose.RESULT_DELIVERY,),
            data=delivery_address.model_dump(mode="json"),
        ),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main("python -m services.agency.personal_data", AgencySettings(), personal_data_tables, argv)


if __name__ == "__main__":
    sys.exit(main())

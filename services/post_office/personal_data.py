"""The operator's command of the post office's vault: ``python -m services.post_office.personal_data
rotate`` re-wraps every data key under the first KEK of PERSONAL_DATA_KEYS (services/shared/personal_data)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.post_office.adapters.tables import personal_data_tables
from services.post_office.settings import PostOfficeSettings
from services.shared.personal_data import cli


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(
        "python -m services.post_office.personal_data", PostOfficeSettings(), personal_data_tables, argv
    )


if __name__ == "__main__":
    sys.exit(main())

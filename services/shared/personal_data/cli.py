"""The operator's command of a service's vault: ``python -m services.<service>.personal_data rotate``.

``rotate`` re-wraps every data key not under the first KEK of PERSONAL_DATA_KEYS, in batches, beside the
running service (its replicas read either key meanwhile); it prints how many were re-wrapped and how many
records name a KEK that is not listed (those need the old key back in the list, then another run), and
names each record it could not re-wrap (a KEK not listed, a data key that does not unwrap) and goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from services.shared.db.engine import make_engine
from services.shared.personal_data.settings import PersonalDataSettings
from services.shared.personal_data.tables import VaultTables
from services.shared.personal_data.vault import Rotation, Vault


async def rotate(settings: PersonalDataSettings, tables: VaultTables, batch: int) -> Rotation:
    engine = make_engine(settings.database_url)
    try:
        return await Vault(tables, settings.keyring(), settings.blind_index()).rotate(engine, batch)
    finally:
        await engine.dispose()


def main(prog: str, settings: PersonalDataSettings, tables: VaultTables, argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rotation = commands.add_parser("rotate", help="re-wrap every data key under the first KEK")
    rotation.add_argument("--batch", type=int, default=500, help="records re-wrapped per transaction")
    args = parser.parse_args(argv)
    done = asyncio.run(rotate(settings, tables, args.batch))
    print(f"re-wrapped {done.rewrapped} data key(s) under {settings.keyring().current_id}")
    if done.remaining:
        print(f"{done.remaining} record(s) were busy and are still under an older key: run it again")
    if done.unknown:
        print(f"{done.unknown} record(s) name a KEK that PERSONAL_DATA_KEYS does not list", file=sys.stderr)
    # Each record left as it was, by dossier id and kind (never its data): the operator's to fix.
    for record in done.unopened:
        print(f"not re-wrapped: {record.dossier_id} {record.kind}: {record.reason}", file=sys.stderr)
    return 1 if done.unknown or done.unopened else 0

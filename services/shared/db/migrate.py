"""Run the Alembic migrations programmatically (services at start-up, tests, the CLI)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from services.shared.db.engine import DEFAULT_URL, async_url

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's ini interpolation treats % specially; escape it so passwords survive.
    config.set_main_option(
        "sqlalchemy.url", async_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def upgrade(url: str | URL, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str | URL, revision: str = "heads") -> None:
    # env.py runs its own event loop; keep it off the caller's loop.
    await asyncio.to_thread(upgrade, url, revision)


def main() -> None:
    import os

    parser = argparse.ArgumentParser(description="Create or update the database schema.")
    parser.add_argument("action", choices=["upgrade", "downgrade"])
    parser.add_argument("revision", nargs="?", default=None)
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if args.action == "upgrade":
        upgrade(args.url, args.revision or "heads")
    else:
        downgrade(args.url, args.revision or "base")


if __name__ == "__main__":
    main()

"""The local providers' accounts, one definition for both sides: the sinks check requests against them
and the local run configures the notifications service with them. Their secrets are generated once under
the work directory (<work>/sinks/, mode 600), like the run's other local secrets; nothing here is valid
anywhere but on this machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.notifications.domain import CITIZEN_KINDS
from services.notifications.ports import Channel
from services.shared.key_files import ensure_key_file
from services.stack.sinks.providers import EsmsAccount, ZaloAccount

BRANDNAME = "BUUDIEN-HCC"
ZALO_APP_ID = "local-zalo-app"
ZALO_TEMPLATES = {
    f"{kind.value}.{Channel.ZALO.value}": str(900_000 + number)
    for number, kind in enumerate(sorted(CITIZEN_KINDS))
}
"""Our template ids (`accepted.zalo`) and the ids the local Zalo "registered" them under: every citizen
message has one, so none falls back for want of a template."""


@dataclass(frozen=True)
class LocalAccounts:
    esms: EsmsAccount
    esms_callback_secret: str
    """Signs each SMS's CallbackUrl (the notifications service checks the reports with it)."""
    zalo: ZaloAccount
    zalo_oa_secret_key: str
    """Signs the Zalo webhook's events."""


def local_accounts(work: Path) -> LocalAccounts:
    """Generated on first use and kept: the sinks and the notifications service read the same files."""
    secrets = work / "sinks"

    def key(name: str) -> str:
        return ensure_key_file(secrets / name)

    return LocalAccounts(
        esms=EsmsAccount(api_key=key("esms_api_key"), secret_key=key("esms_secret_key")),
        esms_callback_secret=key("esms_callback_secret"),
        zalo=ZaloAccount(key("zalo_access_token"), template_ids=frozenset(ZALO_TEMPLATES.values())),
        zalo_oa_secret_key=key("zalo_oa_secret_key"),
    )

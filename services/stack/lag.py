"""How far the consumer groups are behind the end of their topics: the summary waits for zero, so that
it describes everything the run sent."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping

from contracts.topics import AGENCY_EVENTS, AGENCY_INTAKE, POSTAL_EVENTS
from services.agency.settings import AgencySettings
from services.notifications.consumers import TOPICS as NOTIFICATIONS_TOPICS
from services.notifications.settings import NotificationsSettings
from services.shared import consumer_lag as shared_lag
from services.shared.kafka_security import PLAINTEXT, KafkaSecurity
from services.stack.settings import env_var
from services.tracker.settings import TrackerSettings
from services.turnaround.settings import TurnaroundSettings


def _default(
    settings: type[AgencySettings | TrackerSettings | TurnaroundSettings | NotificationsSettings], field: str
) -> str:
    return str(settings.model_fields[field].default)


CONSUMER_GROUPS: Mapping[str, tuple[str, ...]] = {
    _default(TrackerSettings, "consumer_group"): (POSTAL_EVENTS.name, AGENCY_EVENTS.name),
    _default(TurnaroundSettings, "consumer_group"): (POSTAL_EVENTS.name, AGENCY_EVENTS.name),
    _default(AgencySettings, "postal_group_id"): (POSTAL_EVENTS.name,),
    _default(AgencySettings, "intake_group_id"): (AGENCY_INTAKE.name,),
    _default(NotificationsSettings, "consumer_group"): tuple(topic.name for topic in NOTIFICATIONS_TOPICS),
}
"""The stack's consumer groups (default ids) and the topics each reads."""


async def consumer_lag(
    bootstrap: str,
    groups: Mapping[str, tuple[str, ...]] = CONSUMER_GROUPS,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, int]:
    """Records each group has yet to read, summed over its topics' partitions (as
    services/shared/consumer_lag defines lag). On the secured broker `security` must be allowed to
    describe every group: the local run uses the admin principal (each service's may describe only its
    own groups)."""
    lag = await shared_lag.consumer_lag(bootstrap, groups, client_id="dossier-stack-lag", security=security)
    return {group: sum(partitions.values()) for group, partitions in lag.items()}


async def wait_caught_up(
    bootstrap: str,
    timeout_s: float,
    groups: Mapping[str, tuple[str, ...]] = CONSUMER_GROUPS,
    *,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, int]:
    """Until every group's lag is zero, or the time runs out; returns the last lag seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        lag = await consumer_lag(bootstrap, groups, security=security)
        if not any(lag.values()) or loop.time() > deadline:
            return lag
        await asyncio.sleep(0.5)


async def settle(
    bootstrap: str, timeout_s: float = 120.0, security: KafkaSecurity = PLAINTEXT
) -> dict[str, int]:
    """Until the consumers have caught up and the turnaround service has re-read its store-derived
    metrics once more; returns the lag left (all zero unless the time ran out)."""
    lag = await wait_caught_up(bootstrap, timeout_s, security=security)
    snapshot = TurnaroundSettings.model_fields["snapshot_interval_s"].default
    interval = os.environ.get(env_var(TurnaroundSettings, "snapshot_interval_s"), snapshot)
    await asyncio.sleep(float(interval) + 1)
    return lag

"""Consumer groups joining: whether a service's consumers have joined their groups (its /ready), and
the wait for a group coordinator that is still starting, logged as such rather than as an error."""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import (
    GroupCoordinatorNotAvailableError,
    GroupLoadInProgressError,
    NotCoordinatorForGroupError,
)
from faststream.kafka import KafkaBroker

from services.shared.compat.aiokafka_internals import COORDINATOR_LOGGER as COORDINATOR_LOGGER
from services.shared.compat.aiokafka_internals import coordinator_lookup_error
from services.shared.logs import log_event

logger = logging.getLogger(__name__)

WAITING_FOR_COORDINATOR = "consumer_waiting_for_coordinator"
PARTITIONS_ASSIGNED = "consumer_partitions_assigned"


class _MemberListener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """One group member: it has joined once the coordinator gave it an assignment, even an empty one
    (more members than partitions)."""

    def __init__(
        self, group_id: str, member: int = 0, on_joined: Callable[[str], None] | None = None
    ) -> None:
        self.group_id = group_id
        self.member = member  # which of this process's members, for the logs
        self.joined = False
        self._on_joined = on_joined

    def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    def on_partitions_assigned(self, assigned: Any) -> None:
        if not self.joined:
            log_event(logger, "consumer_group_joined", group=self.group_id, partitions=len(assigned))
        self.joined = True
        if self._on_joined is not None:
            self._on_joined(self.group_id)
        # Every rebalance this member took part in, with what it now owns: who read a partition when
        # (tests/reliability/test_rebalance.py counts the group's rebalances from these lines).
        log_event(
            logger,
            PARTITIONS_ASSIGNED,
            group=self.group_id,
            member=self.member,
            partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
        )


class GroupMembership:
    """Whether every consumer group member of one broker has joined its group.

    A consumer that has not joined reads nothing: on a fresh broker the coordinator takes seconds to
    come up, and a replica reported ready meanwhile would be sent traffic it does not process yet."""

    def __init__(self) -> None:
        self._members: list[_MemberListener] = []
        self._joined_callbacks: list[Callable[[str], None]] = []

    def on_joined(self, callback: Callable[[str], None]) -> None:
        """Call `callback(group_id)` at every assignment a member of this broker receives."""
        self._joined_callbacks.append(callback)

    def _joined(self, group_id: str) -> None:
        for callback in self._joined_callbacks:
            callback(group_id)

    def listener(self, group_id: str) -> ConsumerRebalanceListener:
        """The rebalance listener to give one subscriber of `group_id`."""
        member = _MemberListener(group_id, len(self._members), self._joined)
        self._members.append(member)
        return member

    def not_ready(self) -> str | None:
        """None once every member has joined, else which groups are still joining (a /ready check)."""
        waiting = sorted({m.group_id for m in self._members if not m.joined})
        return f"consumer group not joined yet: {', '.join(waiting)}" if waiting else None

    async def ready_check(self) -> str | None:
        return self.not_ready()


# The coordinator answers "not available" while it is starting or moving: on a fresh broker for the
# first seconds (the __consumer_offsets topic is being created), after a broker restart, during a
# leader change. aiokafka retries every 100 ms and logs each attempt at ERROR.
_COORDINATOR_STARTING = (
    GroupCoordinatorNotAvailableError,
    NotCoordinatorForGroupError,
    GroupLoadInProgressError,
)


class CoordinatorWaitFilter(logging.Filter):
    """Turns aiokafka's "Group Coordinator Request failed" for a coordinator that is still starting into
    one INFO `consumer_waiting_for_coordinator` every `every_s` seconds (the rest are dropped). Any other
    failure of the lookup (broker unreachable, authorisation) is left at ERROR."""

    def __init__(self, every_s: float = 5.0) -> None:
        super().__init__()
        self._every_s = every_s
        self._last = -float("inf")

    def filter(self, record: logging.LogRecord) -> bool:
        error = coordinator_lookup_error(record)
        if not isinstance(error, _COORDINATOR_STARTING):
            return True
        now = time.monotonic()
        if now - self._last < self._every_s:
            return False
        self._last = now
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        record.msg, record.args = WAITING_FOR_COORDINATOR, ()
        record.fields = {"error": type(error).__name__}
        return True


def quiet_coordinator_wait() -> None:
    """Install the CoordinatorWaitFilter once (every make_broker calls this)."""
    coordinator = logging.getLogger(COORDINATOR_LOGGER)
    if not any(isinstance(f, CoordinatorWaitFilter) for f in coordinator.filters):
        coordinator.addFilter(CoordinatorWaitFilter())


_memberships: weakref.WeakKeyDictionary[KafkaBroker, GroupMembership] = weakref.WeakKeyDictionary()


def group_membership(broker: KafkaBroker) -> GroupMembership:
    """The membership of `broker`'s consumer groups: subscribers register in it, /ready reads it."""
    return _memberships.setdefault(broker, GroupMembership())

"""Kafka refusing a service's principal (an ACL missing on the secured broker): said once, clearly, and
shown by /ready, while the service stays up.

A consumer whose principal may not use its group, or read its topics, would otherwise end the service at
start (aiokafka raises the refusal from the first join) or retry silently forever; a publication refused
would be an opaque error. Instead each refusal is one ERROR line `kafka_not_authorised` naming the
principal, the operation and the resource (topic or group names only; never a record's content), /ready
answers 503 with the same sentence under `kafka`, and a refused publication raises
KafkaNotAuthorisedError, which the HTTP APIs answer with a 503 problem `kafka_not_authorised`.
The consumer keeps retrying its join, so an operator who adds the ACL needs no restart: once the group
is joined, its refusal is cleared.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError
from faststream.kafka import KafkaBroker

from services.shared.compat.faststream_internals import keep_consuming_after_refused_start
from services.shared.kafka_groups import group_membership
from services.shared.logs import log_event

logger = logging.getLogger(__name__)

NOT_AUTHORISED = "kafka_not_authorised"
"""The log event and the problem reason of a refusal."""

Operation = Literal["read", "write"]
Resource = Literal["group", "topic"]


@dataclass(frozen=True)
class Refusal:
    principal: str
    operation: Operation
    resource: Resource
    name: str

    def sentence(self) -> str:
        return f"not authorised to {self.operation} {self.resource} {self.name} (principal {self.principal})"


class KafkaNotAuthorisedError(Exception):
    """The broker refused this service's principal an operation; nothing was written."""

    def __init__(self, refusals: Iterable[Refusal]) -> None:
        self.refusals = tuple(refusals)
        super().__init__("; ".join(r.sentence() for r in self.refusals))


def is_refusal(error: BaseException) -> bool:
    return isinstance(error, GroupAuthorizationFailedError | TopicAuthorizationFailedError)


def _names(error: BaseException, fallback: Iterable[str]) -> list[str]:
    """The resources aiokafka names in the error's first argument (a name or a set of names), else the
    caller's own (the group it joins, the topics it published to)."""
    named = error.args[0] if error.args else None
    if isinstance(named, str) and named:
        return [named]
    if isinstance(named, set | frozenset | list | tuple) and named:
        return sorted(str(n) for n in named)
    return sorted(set(fallback))


class Refusals:
    """The refusals one broker (one principal) has met and not yet seen lifted."""

    def __init__(self, principal: str = "") -> None:
        self.principal = principal
        self._active: dict[tuple[str, str, str], Refusal] = {}
        self.seen = 0  # refusals met, repeats included (tests wait on it)

    def refused(
        self, error: BaseException, operation: Operation, fallback: Iterable[str] = ()
    ) -> list[Refusal]:
        """Record the refusal `error` stands for; the first time a resource is refused, log it."""
        resource: Resource = "group" if isinstance(error, GroupAuthorizationFailedError) else "topic"
        refusals = [Refusal(self.principal or "?", operation, resource, n) for n in _names(error, fallback)]
        self.seen += 1
        for refusal in refusals:
            key = (refusal.operation, refusal.resource, refusal.name)
            if key in self._active:
                continue  # the same refusal met again on a retry: already said
            self._active[key] = refusal
            log_event(
                logger,
                NOT_AUTHORISED,
                logging.ERROR,
                principal=refusal.principal,
                operation=refusal.operation,
                resource=refusal.resource,
                name=refusal.name,
                error=type(error).__name__,
            )
        return refusals

    def lifted(self, operation: Operation, resource: Resource, names: Iterable[str]) -> None:
        """The broker allowed these again (an operator added the ACL)."""
        for name in names:
            if self._active.pop((operation, resource, name), None) is not None:
                log_event(
                    logger,
                    "kafka_authorised_again",
                    principal=self.principal,
                    operation=operation,
                    resource=resource,
                    name=name,
                )

    def not_ready(self) -> str | None:
        if not self._active:
            return None
        return "; ".join(r.sentence() for _, r in sorted(self._active.items()))

    async def ready_check(self) -> str | None:
        return self.not_ready()


_refusals: weakref.WeakKeyDictionary[KafkaBroker, Refusals] = weakref.WeakKeyDictionary()


def kafka_refusals(broker: KafkaBroker) -> Refusals:
    """The refusals of `broker`'s principal (make_broker names it)."""
    refusals = _refusals.get(broker)
    if refusals is None:
        refusals = _refusals[broker] = Refusals()
        # A group joined is a group allowed: its refusal, if any, is over.
        group_membership(broker).on_joined(lambda group: refusals.lifted("read", "group", [group]))
    return refusals


def watch_consumer(broker: KafkaBroker, subscriber: Any, group_id: str, topics: Iterable[str]) -> None:
    """Have a subscriber of `broker` survive refusals: its start and each later poll record them."""
    refusals = kafka_refusals(broker)
    names = [group_id, *topics]

    def on_error(error: BaseException) -> bool:
        if not is_refusal(error):
            return False
        fallback = [group_id] if isinstance(error, GroupAuthorizationFailedError) else names[1:]
        refusals.refused(error, "read", fallback)
        return True

    keep_consuming_after_refused_start(subscriber, on_error)

"""No code outside the compat modules reaches into private parts of libraries (see private_access.py)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from tests.compat.private_access import defined_names, findings, library_privates, scan

# What the compat modules read today, as the scanner would learn it from them.
COMPAT = """
def sender_stopped(producer):
    return producer._sender.sender_task.done()
def current(broker):
    return getattr(broker.config.producer, "_producer", None)
"""
# Our own code elsewhere: a class with its own underscore names, one of which a library also has.
OURS = """
class Service:
    _sampler: object
    def _sample_forever(self): ...
class Client:
    def __init__(self):
        self._producer = None
"""


def _found(snippet: str) -> list[str]:
    trees = [ast.parse(COMPAT), ast.parse(OURS), ast.parse(textwrap.dedent(snippet))]
    ours = defined_names(trees)
    privates = library_privates([trees[0]])
    return [finding.what for finding in findings("snippet.py", trees[2], ours, privates)]


@pytest.mark.parametrize(
    "snippet",
    [
        "task = producer._sender.sender_task",
        "fresh = AIOKafkaProducer(**broker._connection_kwargs)",
        "state = getattr(broker.config.producer, '_producer', None)",
        "producer = broker._producer._producer.producer",
        "dbapi_connection._handle_exception(error)",
        "sequences = producer._txn_manager._sequence_numbers",
        "object.__setattr__(envelope, '__pydantic_extra__', None)",
        "object.__setattr__(envelope, '__dict__', values)",
        "fields = attributes.__pydantic_fields_set__",
        "envelope = Envelope.__new__(Envelope)",
        "from faststream.kafka.publisher.producer import AioKafkaFastProducerImpl",
        "from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol",
        "from sqlalchemy.util import await_only",
        "from pydantic._internal import _model_construction",
        "import faststream._internal.producer",
        "from aiokafka.util import _private_helper",
    ],
)
def test_a_private_use_of_a_library_is_found(snippet: str) -> None:
    assert _found(snippet), f"not flagged: {snippet}"


@pytest.mark.parametrize(
    "snippet",
    [
        "self._producer = make()",
        "service._sampler = asyncio.create_task(service._sample_forever())",
        "values = row._mapping",
        "os._exit(3)",
        "point = point._replace(x=1)",
        "start = object.__new__(DossierView)",
        "from faststream.kafka import KafkaBroker",
        "from sqlalchemy.ext.asyncio import AsyncEngine",
        "from __future__ import annotations",
        "monkeypatch.setattr(service, '_sampler', None)",
    ],
)
def test_our_own_underscore_names_and_public_api_are_not_flagged(snippet: str) -> None:
    assert _found(snippet) == []


def test_no_private_part_of_a_library_is_reached_outside_the_compat_modules() -> None:
    found = scan()
    assert not found, (
        "private parts of libraries reached outside services/shared/compat/ and "
        "contracts/pydantic_internals.py; put each behind its library's compat module with a check in "
        "tests/compat (or, if the name is public API, add it to tests/compat/private_access.py):\n"
        + "\n".join(str(finding) for finding in found)
    )

"""What counts as "the database is unavailable": consumers retry it instead of dead-lettering, and the
APIs answer it 503 with Retry-After instead of 500. A failure that waiting does not fix is not one."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from services.shared.consuming import is_transient
from services.shared.db.availability import is_database_unavailable


class _DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def _wrapped(
    sqlstate: str | None, *, invalidated: bool = False, kind: type[DBAPIError] = DBAPIError
) -> DBAPIError:
    return kind("SELECT 1", None, _DriverError(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (_wrapped("57P03"), "the server is starting up or shutting down (operator intervention)"),
        (_wrapped("57P01"), "an administrator shut the server down"),
        (_wrapped("08006"), "the connection failed"),
        (_wrapped("53300"), "too many connections"),
        (_wrapped("40001"), "a serialization failure: a retry resolves it"),
        (_wrapped("40P01"), "a deadlock: a retry resolves it"),
        (_wrapped(None, invalidated=True), "the connection was invalidated under the statement"),
        (_wrapped(None, kind=OperationalError), "SQLAlchemy's own verdict: operational"),
        (
            ConnectionRefusedError(111, "Connection refused"),
            "nobody listens: raised before SQLAlchemy wraps it",
        ),
        (TimeoutError(), "the connection attempt timed out"),
    ],
)
def test_an_outage_is_unavailability_that_waiting_fixes(error: BaseException, why: str) -> None:
    assert is_database_unavailable(error), why
    assert is_transient(error), why


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (_wrapped("23505", kind=IntegrityError), "a unique violation is data, not an outage"),
        (_wrapped("42P01", kind=ProgrammingError), "a missing table is a bug or a missed migration"),
        (_wrapped("22P02"), "invalid text for a type is bad input"),
        (_wrapped("4000"), "a class 40 code other than the two retryable ones"),
        (_wrapped(None), "a driver error without a state says nothing about availability"),
        (ValueError("bad value"), "not a database failure at all"),
    ],
)
def test_a_failure_that_waiting_does_not_fix_is_not_unavailability(error: BaseException, why: str) -> None:
    assert not is_database_unavailable(error), why

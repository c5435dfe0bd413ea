"""One definition of "the database is unavailable right now", for the consumers (retry, do not
dead-letter) and the HTTP APIs (answer 503 with Retry-After, not 500).

A failure is one of unavailability when waiting fixes it: the server is down, restarting or refusing
connections, the network dropped, or PostgreSQL asks for a retry. A failure that waiting does not fix (a
constraint, a syntax error, a missing table) is a bug or bad data, and is not one.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# SQLSTATE classes and codes that mean "try again later": connection exceptions (08), insufficient
# resources (53), operator intervention (57: shutting down, starting up, admin shutdown) and the two
# transaction rollbacks a retry resolves (serialization failure, deadlock).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")
_TRANSIENT_SQLSTATES = ("40001", "40P01")


def is_database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        # asyncpg's CannotConnectNowError ("the database system is shutting down") reaches us as a
        # plain DBAPIError; its SQLSTATE says what it is.
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        return sqlstate.startswith(_TRANSIENT_SQLSTATE_CLASSES) or sqlstate in _TRANSIENT_SQLSTATES
    # A connection that cannot be opened reaches us unwrapped: asyncpg raises the socket's error
    # (ConnectionRefusedError, a timeout) before SQLAlchemy has a connection to wrap it with.
    return isinstance(exc, ConnectionError | TimeoutError)

"""Credentials: signed JWT bearer tokens bound to one post office, one agency, or an operator; or the
notifications service's (role notifier), which only reads applicants' contacts (access.py).

A token proves who signed it; the credential registry (table `credential`) says whether it is still
valid, so an operator can revoke one before it expires, and what it is bound to: a token claiming
another role, scope or expiry than its registration is refused. Tokens are never logged.
"""

from services.shared.auth.tokens import (
    REFUSAL_DOC,
    CredentialError,
    Principal,
    Role,
    TokenSigner,
)

__all__ = ["REFUSAL_DOC", "CredentialError", "Principal", "Role", "TokenSigner"]

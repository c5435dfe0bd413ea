"""Settings of every service that serves HTTP: body and header limits, slow-client deadlines, proxies.

They take the service's own env prefix (POST_OFFICE_MAX_BODY_BYTES, AGENCY_FORWARDED_ALLOW_IPS, …): each
service is exposed, and fronted, on its own.
"""

from __future__ import annotations

from pydantic import Field

from services.shared.settings import SharedSettings


class HttpServiceSettings(SharedSettings):
    max_body_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest request body accepted (413 body_too_large beyond); batch endpoints have their "
        "own limit, sized to their item limit.",
    )
    body_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Time a client has to send a whole request body once its headers arrived (408 "
        "body_timeout beyond): a trickled body cannot hold a connection and its buffer.",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Time a client has to send a request's headers, from the connection's opening or the "
        "end of the previous answer; the connection is closed beyond.",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=4096,
        description="Largest request line plus headers accepted (431 and close beyond).",
    )
    keep_alive_s: int = Field(5, ge=1, description="How long an idle keep-alive connection stays open.")
    forwarded_allow_ips: str = Field(
        "",
        description="Comma-separated addresses (or networks) of the reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed; empty: none, the peer address is the client.",
    )

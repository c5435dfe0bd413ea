"""Every service's `python -m` entrypoint serves its API through services.shared.http_server, so the
proxy, header and keep-alive settings hold for all of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import services.agency.__main__ as agency_main
import services.post_office.app as post_office_app
import services.turnaround.__main__ as turnaround_main
from services.agency.settings import AgencySettings
from services.shared import http_server
from services.shared.http_server import GuardedHttpToolsProtocol, server_config
from services.shared.http_settings import HttpServiceSettings
from services.tracker.__main__ import main as tracker_main

SECRET = "http-server-startup-tests-secret-0123456789"


class Served:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, HttpServiceSettings, str, int]] = []

    def __call__(self, app: Any, settings: HttpServiceSettings, *, host: str, port: int) -> None:
        self.calls.append((app, settings, host, port))


@pytest.mark.parametrize(
    ("prefix", "module", "main"),
    [
        ("POST_OFFICE", http_server, post_office_app.main),
        ("AGENCY", agency_main, agency_main.main),
        ("TURNAROUND", turnaround_main, turnaround_main.main),
        ("TRACKER", http_server, lambda: tracker_main(["api"])),
    ],
)
def test_each_service_serves_through_the_shared_helper_with_its_own_proxy_setting(
    monkeypatch: pytest.MonkeyPatch, prefix: str, module: Any, main: Callable[[], object]
) -> None:
    served = Served()
    monkeypatch.setattr(module, "serve", served)
    monkeypatch.setenv("DOSSIER_AUTH_SECRET", SECRET)
    monkeypatch.setenv(f"{prefix}_FORWARDED_ALLOW_IPS", "10.0.0.7")

    main()

    [(_, settings, _, _)] = served.calls
    assert settings.forwarded_allow_ips == "10.0.0.7"


def test_no_proxy_is_trusted_by_default_whatever_uvicorn_would_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")  # uvicorn's own variable: ignored

    config = server_config(object(), AgencySettings(), host="127.0.0.1", port=1)

    assert config.proxy_headers is False
    assert config.forwarded_allow_ips == []
    assert issubclass(config.http, GuardedHttpToolsProtocol)  # type: ignore[arg-type]


def test_named_proxies_are_trusted() -> None:
    settings = AgencySettings(forwarded_allow_ips="10.0.0.7, 10.1.0.0/16")

    config = server_config(object(), settings, host="127.0.0.1", port=1)

    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.7", "10.1.0.0/16"]

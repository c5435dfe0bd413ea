"""services/shared/compat/uvicorn_internals.py against the installed uvicorn."""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import pytest

from services.shared.compat import InternalsChangedError, uvicorn_internals
from services.shared.compat.uvicorn_internals import HttpToolsProtocol
from services.shared.http_server import guarded_protocol


async def test_the_installed_uvicorn_has_every_hook_the_guarded_protocol_relies_on() -> None:
    await uvicorn_internals.check()


async def test_the_guarded_protocol_keeps_the_hooks_it_overrides() -> None:
    await uvicorn_internals.check(guarded_protocol(10.0, 64 * 1024))


async def test_a_changed_hook_names_uvicorn_its_version_and_the_module_to_update() -> None:
    class Changed(HttpToolsProtocol):
        def on_headers_complete(self, parser: Any) -> None:  # type: ignore[override]
            return None

    expected = (
        f"uvicorn {version('uvicorn')} no longer has HttpToolsProtocol.on_headers_complete(): "
        "services/shared/compat/uvicorn_internals.py must be updated"
    )
    with pytest.raises(InternalsChangedError, match=re.escape(expected)):
        await uvicorn_internals.check(Changed)


async def test_a_missing_attribute_is_named_too() -> None:
    class Changed(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            del self.timeout_keep_alive_task

    with pytest.raises(
        InternalsChangedError, match=re.escape("the attribute HttpToolsProtocol.timeout_keep_alive_task")
    ):
        await uvicorn_internals.check(Changed)


def test_the_installed_uvicorn_supervises_workers_as_serve_workers_runs_it() -> None:
    uvicorn_internals.check_supervisor()


def test_a_supervisor_built_otherwise_is_named() -> None:
    class Changed:
        def __init__(self, config: object, sockets: object, *, restart: bool) -> None: ...

        def run(self) -> None: ...

    with pytest.raises(InternalsChangedError, match=re.escape("Multiprocess(config, sockets)")):
        uvicorn_internals.check_supervisor(Changed)

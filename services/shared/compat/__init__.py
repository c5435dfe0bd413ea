"""The private parts of libraries the services rely on, one module per library.

Each module says, per function, which public API is missing and why the project needs the private one;
its `check` probes every private name against the installed library and raises InternalsChangedError, which
names the library, its installed version and the private name that changed. tests/compat runs the
checks; pyproject.toml bounds each library to the minor line they were run against. No other module may
reach a library's private parts (tests/compat/test_no_private_access.py).
"""

from __future__ import annotations

from importlib.metadata import version


class InternalsChangedError(AssertionError):
    """The installed library no longer has a private part a compat module uses."""

    def __init__(self, library: str, missing: str, module: str) -> None:
        super().__init__(
            f"{library} {version(library)} no longer has {missing}: {module} must be updated "
            f"(and the bound on {library} in pyproject.toml with it)"
        )


def module_path(name: str) -> str:
    """`services.shared.compat.x` as the file a maintainer opens."""
    return name.replace(".", "/") + ".py"

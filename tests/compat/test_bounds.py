"""Each library whose private parts a compat module uses is bounded in pyproject.toml to the minor line
installed here, the one tests/compat checked: a fresh install cannot pick a line nobody checked."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from contracts import pydantic_internals
from services.shared.compat import (
    aiokafka_internals,
    faststream_internals,
    sqlalchemy_internals,
    uvicorn_internals,
)

ROOT = Path(__file__).resolve().parents[2]
BOUNDED = {
    module.LIBRARY
    for module in (
        aiokafka_internals,
        faststream_internals,
        sqlalchemy_internals,
        uvicorn_internals,
        pydantic_internals,
    )
}


def bound_problems(pyproject: str) -> list[str]:
    requirements = {
        Requirement(line).name.lower(): Requirement(line)
        for line in tomllib.loads(pyproject)["project"]["dependencies"]
    }
    problems = []
    for library in sorted(BOUNDED):
        installed = Version(version(library))
        next_minor = Version(f"{installed.major}.{installed.minor + 1}")
        requirement = requirements.get(library)
        if requirement is None:
            problems.append(f"{library} is not a dependency in pyproject.toml")
            continue
        specifier = requirement.specifier
        uppers = [Version(spec.version) for spec in specifier if spec.operator == "<"]
        if installed not in specifier:
            problems.append(f"{library} {installed} (checked by tests/compat) is outside {specifier}")
        elif not uppers or min(uppers) > next_minor:
            problems.append(
                f"{library} {specifier} allows lines after the checked {installed}: add <{next_minor}"
            )
    return problems


def test_every_library_with_a_compat_module_is_bounded_to_the_checked_minor_line() -> None:
    assert bound_problems((ROOT / "pyproject.toml").read_text()) == []


def test_an_unbounded_library_is_named() -> None:
    # The dependencies as they were before the bounds.
    before = """
[project]
dependencies = [
    "faststream[kafka,prometheus]>=0.6,<0.8",
    "aiokafka>=0.12",
    "sqlalchemy[asyncio]>=2.0.30,<2.2",
    "pydantic>=2.7,<3",
    "uvicorn[standard]>=0.30",
]
"""
    problems = bound_problems(before)
    assert [problem.split(" ")[0] for problem in problems] == ["aiokafka", "pydantic", "uvicorn"], problems
    assert problems[0].startswith("aiokafka >=0.12 allows lines after the checked"), problems

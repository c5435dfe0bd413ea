"""The dependency locks are what setup, CI and the image install, and they are in step with pyproject.toml.

A fresh clone on another day must install the same versions: scripts/setup.sh and the Dockerfile install
requirements/*.lock.txt with `pip install --require-hashes`, and these tests fail (naming the package)
when pyproject.toml changed without `bash scripts/lock.sh`, when a lock line lost its pin or hash, or when
.venv was not reinstalled after the lock changed.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from scripts.lockcheck import (
    DEV_LOCK,
    PYPROJECT,
    ROOT,
    RUNTIME_LOCK,
    installed_mismatches,
    out_of_step,
    parse_lock,
    pip_install_commands,
    read_lock,
    runtime_differs_from_dev,
)

LOCKS = {"runtime": (RUNTIME_LOCK, ()), "dev": (DEV_LOCK, ("dev",))}


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_every_line_of_the_lock_pins_one_version_with_hashes(which: str) -> None:
    path, _ = LOCKS[which]
    lock = read_lock(path)
    assert lock.problems == []
    assert len(lock.pins) >= 40
    assert all(pin.hashes for pin in lock.pins.values())


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_every_dependency_pyproject_names_is_pinned_within_its_range(which: str) -> None:
    path, extras = LOCKS[which]
    assert out_of_step(PYPROJECT, read_lock(path), extras) == []


@pytest.mark.parametrize("which", sorted(LOCKS))
def test_the_lock_says_how_it_was_made(which: str) -> None:
    path, _ = LOCKS[which]
    header = path.read_text(encoding="utf-8").split("\n\n", 1)[0][:2000]
    assert "bash scripts/lock.sh" in header
    assert "--generate-hashes" in header
    assert "--python-version 3.11" in header


def test_the_dev_lock_holds_the_dev_tools_and_the_runtime_lock_does_not() -> None:
    dev, runtime = read_lock(DEV_LOCK), read_lock(RUNTIME_LOCK)
    for tool in ("pytest", "mypy", "ruff", "schemathesis"):
        assert tool in dev.pins
        assert tool not in runtime.pins


def test_the_image_runs_the_versions_the_suite_ran_with() -> None:
    assert runtime_differs_from_dev(read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)) == []


def test_a_dependency_added_to_pyproject_without_refreshing_the_lock_is_named(tmp_path: Path) -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    text = text.replace("dependencies = [\n", 'dependencies = [\n    "Left_Pad-Lock-Probe>=1.0",\n', 1)
    # A second, narrower range for a locked package: the lock's pin no longer satisfies pyproject.
    text = text.replace("dependencies = [\n", 'dependencies = [\n    "PyYAML<1",\n', 1)
    text = text.replace("dev = [\n", 'dev = [\n    "dev-only-lock-probe",\n', 1)
    edited = tmp_path / "pyproject.toml"
    edited.write_text(text, encoding="utf-8")

    runtime = out_of_step(edited, read_lock(RUNTIME_LOCK))
    dev = out_of_step(edited, read_lock(DEV_LOCK), ("dev",))

    assert any("left-pad-lock-probe" in p and "not in the lock" in p for p in runtime)
    assert any(p.startswith("pyyaml==") and "outside" in p and "PyYAML<1" in p for p in runtime)
    assert not any("dev-only-lock-probe" in p for p in runtime)
    assert any("dev-only-lock-probe" in p and "not in the lock" in p for p in dev)


def test_the_build_backend_is_locked_too_since_the_project_is_built_without_isolation(tmp_path: Path) -> None:
    text = PYPROJECT.read_text(encoding="utf-8").replace("requires = [", 'requires = ["setuptools>=999", ', 1)
    edited = tmp_path / "pyproject.toml"
    edited.write_text(text, encoding="utf-8")
    assert any(p.startswith("setuptools==") for p in out_of_step(edited, read_lock(RUNTIME_LOCK)))
    requires = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["build-system"]["requires"]
    installer = (ROOT / "requirements" / "installer.in").read_text(encoding="utf-8")
    assert all(line in installer.splitlines() for line in requires)


def test_a_lock_line_without_pin_or_hash_is_named() -> None:
    sha = "sha256:" + "0" * 64
    lock = parse_lock(
        f"good==1.0 \\\n    --hash={sha}\n"
        "    # via something\n"
        "unhashed==2.0\n"
        f"ranged>=3.0 --hash={sha}\n"
        f"-e ./local --hash={sha}\n"
        "badhash==1.0 --hash=md5:abc\n"
    )
    assert set(lock.pins) == {"good"}
    assert any(p.startswith("unhashed has no --hash=sha256:") for p in lock.problems)
    assert any(p.startswith("ranged is not pinned") for p in lock.problems)
    assert any(p.startswith("option line not allowed") for p in lock.problems)
    assert any(p.startswith("badhash has no --hash=sha256:") for p in lock.problems)


def test_the_venv_has_every_version_of_the_dev_lock() -> None:
    """A .venv installed before the lock changed is caught here; `bash scripts/setup.sh` reinstalls it."""
    assert installed_mismatches(read_lock(DEV_LOCK)) == []


def test_a_stale_venv_is_named_by_package() -> None:
    sha = "sha256:" + "0" * 64
    installed = importlib.metadata.version("pytest")
    lock = parse_lock(f"pytest==0.0.1 --hash={sha}\nnot-installed-lock-probe==1.0 --hash={sha}\n")
    assert installed_mismatches(lock) == [
        "not-installed-lock-probe==1.0 is locked but not installed",
        f"pytest is installed at {installed} but locked at 0.0.1",
    ]


def _lock_and_project_installs(script: str, lock: Path) -> tuple[list[str], list[str]]:
    commands = pip_install_commands(script)
    relative = str(lock.relative_to(ROOT))
    # Nothing may be installed outside the lock: each pip install is either the lock or the project.
    assert len(commands) == 2, commands
    from_lock, project = commands
    assert "--require-hashes" in from_lock
    assert from_lock[from_lock.index("-r") + 1] == relative
    assert "--only-binary" in from_lock
    assert from_lock[from_lock.index("--only-binary") + 1] == ":all:"
    assert "--no-deps" in project
    assert "--no-build-isolation" in project
    assert project[project.index("-e") + 1] == "."
    return from_lock, project


def test_setup_installs_the_dev_lock_with_hashes_then_the_project_without_dependencies() -> None:
    script = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    _lock_and_project_installs(script, DEV_LOCK)
    # The install is redone when the lock changes, not only when pyproject.toml does.
    assert "sha256sum requirements/dev.lock.txt" in script


def test_the_image_installs_the_runtime_lock_with_hashes_then_the_project_without_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    _lock_and_project_installs(dockerfile, RUNTIME_LOCK)
    lines = [line.strip() for line in dockerfile.splitlines()]
    copy_lock = next(
        i for i, line in enumerate(lines) if line.startswith("COPY requirements/runtime.lock.txt")
    )
    install_lock = next(i for i, line in enumerate(lines) if "--require-hashes" in line)
    copy_code = next(i for i, line in enumerate(lines) if line.startswith("COPY services"))
    # Dependencies form their own layer, rebuilt only when the lock changes.
    assert copy_lock < install_lock < copy_code
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split("\n")
    patterns = [p.strip() for p in ignored if p.strip() and not p.startswith("#")]
    lock = str(RUNTIME_LOCK.relative_to(ROOT))
    prefixes = [lock, *(str(parent) for parent in Path(lock).parents if str(parent) != ".")]
    dropping = [p for p in patterns if any(fnmatch.fnmatch(x, p.lstrip("/")) for x in prefixes)]
    assert dropping == [], f".dockerignore drops {lock}, which the image installs from"


def test_pip_install_commands_reads_continued_lines_and_python_dash_m() -> None:
    script = (
        "x && .venv/bin/python -m pip install -q \\\n    -r a.txt\n"
        "# pip install nothing\n"
        "RUN pip install -e .\n"
    )
    assert pip_install_commands(script) == [["-q", "-r", "a.txt"], ["-e", "."]]


def test_names_compare_normalised() -> None:
    assert canonicalize_name("types-PyYAML") in read_lock(DEV_LOCK).pins

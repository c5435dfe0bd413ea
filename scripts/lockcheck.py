"""Checks that the dependency locks are what setup, CI and the image install, and that they are current.

`requirements/*.lock.txt` are made by `bash scripts/lock.sh` from pyproject.toml. These checks catch a
lock that was not refreshed after pyproject.toml changed, a lock line without an exact pin or a sha256
hash (a hand edit that `pip install --require-hashes` would refuse), and a .venv that was not
reinstalled after the lock changed. Every problem names the package, so the fix is obvious.

`python -m scripts.lockcheck` prints the problems and exits 1 if there are any (scripts/lock.sh runs it).
"""

from __future__ import annotations

import importlib.metadata
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "requirements" / "runtime.lock.txt"
DEV_LOCK = ROOT / "requirements" / "dev.lock.txt"
PYPROJECT = ROOT / "pyproject.toml"


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: Version
    hashes: tuple[str, ...]
    requirement: Requirement

    def applies_here(self) -> bool:
        """False for a pin whose environment marker excludes the running interpreter."""
        if self.requirement.marker is None:
            return True
        return self.requirement.marker.evaluate()


@dataclass(frozen=True)
class Lock:
    pins: dict[NormalizedName, Pin]
    problems: list[str]


def _logical_lines(text: str) -> list[str]:
    """The lock's requirement lines, comments dropped and backslash continuations joined."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            if current:
                lines.append(current)
                current = ""
            continue
        continued = stripped.endswith("\\")
        current = f"{current} {stripped.removesuffix(chr(92)).strip()}".strip()
        if not continued:
            lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return lines


def parse_lock(text: str) -> Lock:
    """Every line must pin one distribution with `==` and carry at least one sha256 hash."""
    pins: dict[NormalizedName, Pin] = {}
    problems: list[str] = []
    for line in _logical_lines(text):
        tokens = line.split()
        hashes = tuple(t.removeprefix("--hash=") for t in tokens if t.startswith("--hash="))
        rest = " ".join(t for t in tokens if not t.startswith("--hash="))
        if rest.startswith("-"):
            problems.append(f"option line not allowed in a lock: {rest!r}")
            continue
        try:
            requirement = Requirement(rest)
        except InvalidRequirement as error:
            problems.append(f"unparseable line {rest!r}: {error}")
            continue
        name = canonicalize_name(requirement.name)
        specifiers = list(requirement.specifier)
        exact = len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version
        if requirement.url or not exact:
            problems.append(f"{name} is not pinned with == to one version: {rest!r}")
            continue
        if not hashes or not all(h.startswith("sha256:") and len(h) == len("sha256:") + 64 for h in hashes):
            problems.append(f"{name} has no --hash=sha256: (or a malformed one)")
            continue
        if name in pins:
            problems.append(f"{name} is pinned twice")
            continue
        pins[name] = Pin(name, Version(specifiers[0].version), hashes, requirement)
    if not pins and not problems:
        problems.append("the lock pins nothing")
    return Lock(pins, problems)


def read_lock(path: Path) -> Lock:
    return parse_lock(path.read_text(encoding="utf-8"))


def declared_requirements(pyproject: Path, extras: tuple[str, ...]) -> list[Requirement]:
    """What pyproject.toml asks for: the runtime dependencies, the given extras, the build backend."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data["project"]
    texts: list[str] = list(project.get("dependencies", []))
    for extra in extras:
        texts.extend(project.get("optional-dependencies", {})[extra])
    # The project's own wheel is built with --no-build-isolation from the lock's setuptools and wheel.
    texts.extend(data.get("build-system", {}).get("requires", []))
    return [Requirement(text) for text in texts]


def out_of_step(pyproject: Path, lock: Lock, extras: tuple[str, ...] = ()) -> list[str]:
    """Each dependency pyproject.toml names that the lock misses, or pins outside pyproject's range."""
    problems: list[str] = []
    for requirement in declared_requirements(pyproject, extras):
        name = canonicalize_name(requirement.name)
        pin = lock.pins.get(name)
        if pin is None:
            problems.append(f"{name} ({requirement}) is in pyproject.toml but not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{name}=={pin.version} in the lock is outside pyproject.toml's {requirement}")
    return problems


def runtime_differs_from_dev(runtime: Lock, dev: Lock) -> list[str]:
    """The image must run the versions the suite was run with: every runtime pin is the dev lock's."""
    problems: list[str] = []
    for name, pin in runtime.pins.items():
        other = dev.pins.get(name)
        if other is None:
            problems.append(f"{name} is in the runtime lock but not in the dev lock")
        elif other.version != pin.version:
            problems.append(f"{name} is {pin.version} in the runtime lock, {other.version} in the dev lock")
    return problems


def installed_mismatches(lock: Lock) -> list[str]:
    """Each locked package that the running interpreter has at another version, or not at all."""
    problems: list[str] = []
    for name, pin in sorted(lock.pins.items()):
        if not pin.applies_here():
            continue
        try:
            installed = Version(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name}=={pin.version} is locked but not installed")
            continue
        if installed != pin.version:
            problems.append(f"{name} is installed at {installed} but locked at {pin.version}")
    return problems


def pip_install_commands(script: str) -> list[list[str]]:
    """The arguments after `pip install` of each pip install in a shell script or Dockerfile."""
    commands: list[list[str]] = []
    for line in _shell_lines(script):
        if "install" not in line:
            continue  # other lines may hold quoting shlex cannot read (sed expressions, printf escapes)
        for part in line.replace("&&", ";").split(";"):
            words = shlex.split(part, comments=True)
            for i in range(len(words) - 1):
                if words[i] == "pip" or words[i].endswith("/pip") or words[i : i + 2] == ["-m", "pip"]:
                    rest = words[i + 1 :] if words[i] != "-m" else words[i + 2 :]
                    if rest[:1] == ["install"]:
                        commands.append(rest[1:])
                    break
    return commands


def _shell_lines(script: str) -> list[str]:
    """Lines with backslash continuations joined; comment lines dropped."""
    joined = script.replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def all_problems() -> list[str]:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    return [
        *(f"{RUNTIME_LOCK.name}: {p}" for p in runtime.problems),
        *(f"{DEV_LOCK.name}: {p}" for p in dev.problems),
        *(f"{RUNTIME_LOCK.name}: {p}" for p in out_of_step(PYPROJECT, runtime)),
        *(f"{DEV_LOCK.name}: {p}" for p in out_of_step(PYPROJECT, dev, ("dev",))),
        *runtime_differs_from_dev(runtime, dev),
        *(f".venv: {p}" for p in installed_mismatches(dev)),
    ]


def main() -> int:
    problems = all_problems()
    for problem in problems:
        print(f"lockcheck: {problem}", file=sys.stderr)
    if problems:
        print("lockcheck: refresh with `bash scripts/lock.sh` (see README.md, Dependencies)", file=sys.stderr)
        return 1
    print("lockcheck: locks in step with pyproject.toml, .venv matches requirements/dev.lock.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())

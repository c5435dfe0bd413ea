"""Finds private parts of libraries reached from our code outside the compat modules.

A library's private attribute, an import from a module it does not document, or pydantic's instance
slots may change in any release; the project keeps every such use in one module per library
(services/shared/compat/*_internals.py, contracts/pydantic_internals.py), each checked against the
installed version by tests/compat. This scanner keeps new uses from slipping in elsewhere.

Underscore names are told apart by who defines them: a ``_name`` our own code defines (a method, a
class or module attribute, ``self._name = …``) is ours wherever it is read, unless a compat module
reaches a library's attribute of that name (aiokafka's ``_producer`` and the simulator's are both
``_producer``), in which case it is read only on ``self``/``cls`` outside the compat modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "contracts", "bench", "tests")
OUR_PACKAGES = frozenset(SCANNED)
COMPAT_MODULES = (
    "services/shared/compat",
    "contracts/pydantic_internals.py",
    # The tests of the compat modules: they take private parts away to see the checks fail.
    "tests/compat",
)

# Underscore names that are public API: SQLAlchemy's Row._mapping (underscored so it cannot clash with
# a column), os._exit, the namedtuple methods, enum's _missing_/_value_/_name_.
PUBLIC_UNDERSCORE_NAMES = frozenset(
    {"_mapping", "_exit", "_asdict", "_replace", "_fields", "_make", "_field_defaults", "_value_", "_name_"}
)

# The libraries whose private parts we reach, and the modules of theirs we import (each documented or
# re-exported as public). An import from any other module of theirs is flagged: if it is public, add it
# here; if not, it belongs in the library's compat module.
WATCHED_LIBRARIES = ("aiokafka", "faststream", "sqlalchemy", "pydantic", "pydantic_core", "uvicorn")
PUBLIC_MODULES = frozenset(
    {
        "aiokafka",
        "aiokafka.abc",
        "aiokafka.admin",
        "aiokafka.admin.config_resource",
        "aiokafka.errors",
        # DefaultPartitioner: the producer's documented default partitioner (the store ceiling cuts batches
        # by the partitions the producer chose).
        "aiokafka.partitioner",
        "aiokafka.structs",
        "faststream",
        "faststream.kafka",
        "faststream.kafka.prometheus",
        "faststream.middlewares",
        # SASLScram512 and the other security objects: FastStream's documented way to give a broker its
        # login and TLS context (the "Security" page of its docs imports them from here).
        "faststream.security",
        "sqlalchemy",
        "sqlalchemy.dialects",
        "sqlalchemy.dialects.postgresql",
        "sqlalchemy.dialects.sqlite",
        "sqlalchemy.engine",
        "sqlalchemy.exc",
        "sqlalchemy.ext.asyncio",
        "sqlalchemy.pool",
        # CreateIndex, DropIndex and the other DDL constructs: the "Customizing DDL" pages of the docs
        # import them from here.
        "sqlalchemy.schema",
        "sqlalchemy.sql",
        "pydantic",
        "pydantic.json_schema",
        "pydantic_core",
        "uvicorn",
    }
)

# Receivers whose underscore attributes are our own class's by construction.
OWN_RECEIVERS = frozenset({"self", "cls"})
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_pydantic_slot(name: str) -> bool:
    return name.startswith("__pydantic_") and name.endswith("__")


def defined_names(trees: Iterable[ast.AST]) -> set[str]:
    """Every underscore name our code defines: functions, classes, parameters, assignment targets."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[-1])
    return {name for name in names if _is_private(name)}


def library_privates(trees: Iterable[ast.AST]) -> set[str]:
    """The underscore attributes the compat modules read on objects that are not their own."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr) and not _on_own(node):
                names.add(node.attr)
            elif (name := _attribute_function_name(node)) is not None and _is_private(name):
                names.add(name)
    return names


def _on_own(node: ast.Attribute) -> bool:
    receiver = node.value
    if isinstance(receiver, ast.Name):
        return receiver.id in OWN_RECEIVERS
    # super()._method(): the parent class is ours when the name is ours (checked by the caller)
    return False


def _attribute_function_name(node: ast.AST) -> str | None:
    """The constant attribute name of getattr/setattr/hasattr/delattr/object.__setattr__ calls."""
    if not isinstance(node, ast.Call) or len(node.args) < 2:
        return None
    func = node.func
    named = (isinstance(func, ast.Name) and func.id in ATTRIBUTE_FUNCTIONS) or (
        isinstance(func, ast.Attribute)
        and func.attr in ATTRIBUTE_FUNCTIONS | {"__setattr__", "__getattribute__"}
    )
    name = node.args[1]
    if named and isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value
    return None


def _watched(module: str) -> bool:
    return module.split(".")[0] in WATCHED_LIBRARIES


def findings(path: str, tree: ast.AST, ours: set[str], privates: set[str]) -> Iterator[Finding]:
    """The private uses of libraries in one module."""
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            if _is_pydantic_slot(node.attr):
                yield Finding(path, line, f"pydantic's instance slot .{node.attr}")
            elif node.attr == "__new__" and not (
                isinstance(node.value, ast.Name) and node.value.id == "object"
            ):
                yield Finding(
                    path, line, "a model instance made with .__new__ (pydantic's construction skipped)"
                )
            elif _is_private(node.attr) and node.attr not in PUBLIC_UNDERSCORE_NAMES and not _on_own(node):
                if node.attr not in ours:
                    yield Finding(path, line, f"private attribute .{node.attr} of a library object")
                elif node.attr in privates:
                    yield Finding(
                        path, line, f".{node.attr}, a library's private attribute read by a compat module"
                    )
        elif (name := _attribute_function_name(node)) is not None:
            if _is_pydantic_slot(name) or name == "__dict__":
                yield Finding(path, line, f"an instance slot {name!r} set or read by name")
            elif (
                _is_private(name)
                and name not in PUBLIC_UNDERSCORE_NAMES
                and (name not in ours or name in privates)
            ):
                yield Finding(path, line, f"private attribute {name!r} reached by name")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from _import_findings(path, line, node.module, [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield from _import_findings(path, line, alias.name, [])


def _import_findings(path: str, line: int, module: str, names: list[str]) -> Iterator[Finding]:
    if module.split(".")[0] in OUR_PACKAGES or module == "__future__":
        return
    if any(_is_private(part) for part in module.split(".")):
        yield Finding(path, line, f"import from the private module {module}")
    elif _watched(module) and module not in PUBLIC_MODULES:
        yield Finding(
            path, line, f"import from {module}, not among the public modules of {module.split('.')[0]}"
        )
    for name in names:
        if _is_private(name):
            yield Finding(path, line, f"import of the private name {module}.{name}")


def _is_compat(relative: str) -> bool:
    return any(relative == c or relative.startswith(c + "/") for c in COMPAT_MODULES)


def _sources(root: Path) -> Iterator[tuple[str, ast.AST]]:
    for top in SCANNED:
        for file in sorted((root / top).rglob("*.py")):
            if ".venv" in file.parts:
                continue
            yield file.relative_to(root).as_posix(), ast.parse(file.read_text(encoding="utf-8"), str(file))


def scan(root: Path = ROOT) -> list[Finding]:
    """Every private use of a library outside the compat modules, in the scanned source trees."""
    modules = list(_sources(root))
    ours = defined_names(tree for _, tree in modules)
    privates = library_privates(tree for relative, tree in modules if _is_compat(relative))
    found: list[Finding] = []
    for relative, tree in modules:
        if not _is_compat(relative):
            found.extend(findings(relative, tree, ours, privates))
    return found

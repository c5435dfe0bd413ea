"""pydantic's private parts: building a model of values already validated, and a generic's arguments.

Checked by tests/compat/test_pydantic_internals.py; pyproject.toml bounds pydantic (and with it
pydantic-core, which pydantic pins) to the tested line. contracts/ imports nothing of services/, so this
module is here rather than in services/shared/compat/.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import SchemaValidator

ModelT = TypeVar("ModelT", bound=BaseModel)

LIBRARY = "pydantic"
MODULE = "contracts/pydantic_internals.py"

# What pydantic keeps on each model instance; construct_validated sets exactly these.
INSTANCE_SLOTS = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")


class PydanticInternalsChangedError(AssertionError):
    """The installed pydantic no longer has a private part this module uses."""

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"{LIBRARY} {version(LIBRARY)} no longer has {missing}: {MODULE} must be updated "
            f"(and the bound on {LIBRARY} in pyproject.toml with it)"
        )


def field_values(model: BaseModel) -> dict[str, Any]:
    """A copy of the model's field values by name, as they are (no conversion).

    pydantic keeps them in the instance's ``__dict__``; its public ways to read them all either convert
    them (``model_dump``) or go through the iteration protocol, slower for the envelope decoded per
    consumed message.
    """
    return dict(model.__dict__)


def construct_validated(model_class: type[ModelT], values: dict[str, Any], fields_set: set[str]) -> ModelT:
    """A `model_class` instance holding `values` (every field, each already valid), validating nothing.

    What ``model_class.model_construct(fields_set, **values)`` makes for a model without extra fields,
    private attributes, post-init or root: the public ``model_construct`` looks up each field's aliases
    and defaults, which cost as much as validating (contracts.envelope decodes thousands of messages a
    second). `values` becomes the instance's own dict, not a copy.
    """
    model = model_class.__new__(model_class)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", fields_set)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def validator_building(model_class: type[BaseModel], fields_of: type[BaseModel]) -> SchemaValidator:
    """A validator of exactly what `fields_of` validates, whose result is a `model_class` instance.

    pydantic-core builds the instance as it builds any it validated (the fields' dict, the fields set, no
    extra, no private attributes), with `fields_of`'s fields and validators and none of `model_class`'s:
    for a class whose own validation does more than a caller needs (Envelope picks its data model from
    the registry; its decoder has picked it already), without building a `fields_of` instance first and
    copying it (construct_validated), which costs a consumer as much again per message.

    pydantic-core reuses a complete class's own validator for a model schema of that class when that
    validator is the model's alone (a class without model validators): `model_class` must have some,
    as Envelope has, or its own validation would run instead.
    """
    schema = dict(fields_of.__pydantic_core_schema__)
    if schema.get("type") != "model" or schema.get("cls") is not fields_of:
        raise PydanticInternalsChangedError(
            f"a model core schema as {fields_of.__name__}.__pydantic_core_schema__"
        )
    schema["cls"] = model_class
    validator = SchemaValidator(schema)
    # The validator's repr names its kind first: "Prebuilt" when pydantic-core took the class's own.
    if "validator=Prebuilt(" in repr(validator)[:200] or "validator=Model(" not in repr(validator)[:200]:
        raise PydanticInternalsChangedError(
            f"a validator of {fields_of.__name__}'s fields building {model_class.__name__} instances "
            f"(pydantic-core took {model_class.__name__}'s own)"
        )
    return validator


def generic_arguments(model_class: type[BaseModel]) -> tuple[Any, ...]:
    """The type arguments a generic model class was parametrised with, () when it was not.

    ``Envelope[SomeEvent]`` is a subclass pydantic makes; ``typing.get_args`` does not see its
    arguments, which pydantic keeps in ``__pydantic_generic_metadata__``.
    """
    return tuple(model_class.__pydantic_generic_metadata__["args"])


def check(sample: BaseModel, base: type[BaseModel] = BaseModel) -> None:
    """Raise PydanticInternalsChangedError unless construct_validated and generic_arguments still do, for
    `sample`'s class, what pydantic's own construction does (`base` is where pydantic declares its slots)."""
    model_class = type(sample)
    if tuple(getattr(base, "__slots__", ())) != INSTANCE_SLOTS:
        raise PydanticInternalsChangedError(f"exactly the instance slots {INSTANCE_SLOTS} on {base.__name__}")
    if model_class.model_config.get("extra") == "allow" or getattr(
        model_class, "__private_attributes__", None
    ):
        raise PydanticInternalsChangedError(
            f"{model_class.__name__} without extra fields or private attributes"
        )
    if getattr(model_class, "__pydantic_post_init__", None) or getattr(
        model_class, "__pydantic_root_model__", True
    ):
        raise PydanticInternalsChangedError(
            f"{model_class.__name__} without post-init as a plain (not root) model"
        )
    metadata = getattr(model_class, "__pydantic_generic_metadata__", None)
    if not isinstance(metadata, dict) or not isinstance(metadata.get("args"), tuple):
        raise PydanticInternalsChangedError("__pydantic_generic_metadata__['args'] on generic models")
    fields = set(sample.model_fields_set)
    ours = construct_validated(model_class, field_values(sample), set(fields))
    theirs = model_class.model_construct(fields, **field_values(sample))
    if (
        ours != theirs
        or ours.model_fields_set != theirs.model_fields_set
        or ours.model_dump_json() != theirs.model_dump_json()
        or ours.model_copy(update={}) != theirs.model_copy(update={})
    ):
        raise PydanticInternalsChangedError(
            f"model_construct building {model_class.__name__} as construct_validated does"
        )

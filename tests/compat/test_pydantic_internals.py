"""contracts/pydantic_internals.py against the installed pydantic, with the real envelope models."""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from contracts import pydantic_internals
from contracts.envelope import Envelope, decode, encode
from contracts.events import EVENT_TYPES
from contracts.pydantic_internals import (
    PydanticInternalsChangedError,
    construct_validated,
    generic_arguments,
    validator_building,
)
from contracts.samples import sample_envelope, sample_envelopes


def test_the_installed_pydantic_builds_every_decoded_envelope_as_its_own_construction_does() -> None:
    for envelope in sample_envelopes():
        pydantic_internals.check(decode(encode(envelope)))


def test_a_decoded_envelope_equals_the_validated_one_in_every_public_respect() -> None:
    for envelope in sample_envelopes():
        decoded = decode(encode(envelope))
        assert decoded == envelope
        assert decoded.model_dump_json() == envelope.model_dump_json()
        assert decoded.model_copy(update={"source": "/tracker"}).source == "/tracker"


def test_generic_arguments_of_a_parametrised_and_a_bare_model() -> None:
    event_class = next(iter(EVENT_TYPES.values()))
    assert generic_arguments(Envelope[event_class]) == (event_class,)  # type: ignore[valid-type]
    assert generic_arguments(Envelope) == ()


def test_new_instance_slots_name_pydantic_its_version_and_the_module_to_update() -> None:
    class StandIn(BaseModel):
        __slots__ = ("__pydantic_new_slot__",)

    expected = (
        f"pydantic {version('pydantic')} no longer has exactly the instance slots "
        f"{pydantic_internals.INSTANCE_SLOTS} on StandIn: contracts/pydantic_internals.py must be updated"
    )
    with pytest.raises(PydanticInternalsChangedError, match=re.escape(expected)):
        pydantic_internals.check(sample_envelope("postal.dossier_accepted"), base=StandIn)


def test_a_model_construct_that_sets_more_than_construct_validated_is_caught() -> None:
    class Extra(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str

    with pytest.raises(PydanticInternalsChangedError, match=re.escape("Extra without extra fields")):
        pydantic_internals.check(Extra(name="x", more=1))


def test_a_model_with_post_init_is_refused() -> None:
    class PostInit(BaseModel):
        name: str

        def model_post_init(self, context: Any, /) -> None:
            return None

    with pytest.raises(PydanticInternalsChangedError, match=re.escape("PostInit without post-init")):
        pydantic_internals.check(PostInit(name="x"))


def test_a_difference_from_model_construct_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if pydantic began to keep something else on each instance that model_construct sets.
    original = Envelope.model_construct

    def construct(*args: Any, **values: Any) -> Any:
        made = original(*args, **values)
        object.__setattr__(made, "__pydantic_fields_set__", set())
        return made

    monkeypatch.setattr(Envelope, "model_construct", construct)
    with pytest.raises(PydanticInternalsChangedError, match=re.escape("model_construct building Envelope")):
        pydantic_internals.check(decode(encode(sample_envelope("postal.dossier_accepted"))))


def test_construct_validated_keeps_the_values_it_is_given() -> None:
    envelope = sample_envelope("postal.dossier_accepted")
    values: dict[str, Any] = dict(envelope)
    built = construct_validated(Envelope, values, {"id"})
    assert built == envelope and built.model_fields_set == {"id"}


class _Fields(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    count: int
    label: str = "none"


class _Built(_Fields):
    # A model validator, as Envelope has: pydantic-core then does not take this class's own validator.
    @model_validator(mode="after")
    def _never(self) -> _Built:
        raise ValueError("the built class's own validation does not run")


class _Plain(_Fields):
    @field_validator("count")
    @classmethod
    def _never(cls, value: int) -> int:
        raise ValueError("the built class's own validation does not run")


def test_a_validator_building_another_class_makes_what_pydantic_makes_of_the_fields() -> None:
    validator = validator_building(_Built, _Fields)

    built = validator.validate_json(b'{"count": 3, "extension": true}')

    assert type(built) is _Built
    expected = _Fields.model_validate_json(b'{"count": 3, "extension": true}')
    assert built.__getstate__() == expected.__getstate__()
    with pytest.raises(ValidationError):
        validator.validate_json(b'{"count": "three"}')


def test_a_validator_building_a_class_whose_own_validator_pydantic_core_would_take_is_refused() -> None:
    with pytest.raises(PydanticInternalsChangedError, match=re.escape("pydantic-core took _Plain's own")):
        validator_building(_Plain, _Fields)


def test_a_validator_building_from_a_schema_that_is_not_a_plain_model_is_refused() -> None:
    class Node(BaseModel):
        children: list[Node] = []

    with pytest.raises(PydanticInternalsChangedError, match=re.escape("a model core schema")):
        validator_building(_Built, Node)

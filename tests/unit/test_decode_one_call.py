"""decode validates a message in one call, and answers exactly what the step-by-step decoder answers.

The step-by-step decoder (attributes, then the model of the type and version, then the data) is the
reference: for every record, valid or not, decode must give the same envelope (equal, same types, same
fields set) or the same reason and detail, so dead letters and projections cannot tell them apart.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench.events import Population
from contracts import envelope as envelope_module
from contracts.envelope import Envelope, decode, decode_step_by_step, kafka_record
from contracts.errors import ContractError
from contracts.events import EVENT_TYPES
from contracts.samples import sample_envelope

Raw = tuple[bytes, bytes | None]


def _bench_records() -> list[Raw]:
    # 300 dossiers give every kind of event the benchmarks publish, most of them many times.
    return [(record.value, record.key) for record in Population(300, seed=19).records()]


def _sample_records() -> list[Raw]:
    records: list[Raw] = []
    for key in sorted(EVENT_TYPES):
        record = kafka_record(sample_envelope(key, str(uuid.uuid4())))
        records.append((record.value, record.key))
    return records


BENCH = _bench_records()
SAMPLES = _sample_records()


def _document(raw: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _variants(raw: bytes) -> Iterator[tuple[str, bytes]]:
    """Valid spellings of one record that a glance at the bytes could misread."""
    document = _document(raw)
    yield "as produced", raw
    yield "indented", json.dumps(document, indent=2).encode()
    yield (
        "data first",
        _dumps({"data": document["data"], **{k: v for k, v in document.items() if k != "data"}}),
    )
    yield "extension attribute", _dumps({**document, "traceparent": "00-0af7-b7ad-01", "type2": "x"})
    yield "no dataschema", _dumps({k: v for k, v in document.items() if k != "dataschema"})
    yield "dataschema null", _dumps({**document, "dataschema": None})
    yield "no datacontenttype", _dumps({k: v for k, v in document.items() if k != "datacontenttype"})
    data_without_tags = {k: v for k, v in document["data"].items() if k not in ("type", "version")}
    yield "data without type and version", _dumps({**document, "data": data_without_tags})
    yield (
        "duplicate attribute, last one valid",
        raw.replace(b'"type":', b'"type":"postal.item_lost","type":', 1),
    )
    yield "schemaversion glance misled", raw.replace(b"{", b'{"x":{"schemaversion":7},', 1)


def _assert_same(raw: bytes, key: bytes | None) -> None:
    try:
        expected = decode_step_by_step(raw, key)
    except ContractError as error:
        with pytest.raises(ContractError) as caught:
            decode(raw, key)
        assert (caught.value.reason, caught.value.detail) == (error.reason, error.detail)
        return
    decoded = decode(raw, key)
    assert type(decoded) is Envelope
    assert type(decoded.data) is type(expected.data)
    assert decoded == expected
    # repr names the type of every value (datetime zones, enums, nested models), not only its equality.
    assert repr(decoded) == repr(expected)
    assert list(decoded.__dict__) == list(expected.__dict__)
    assert decoded.model_fields_set == expected.model_fields_set
    # Everything pydantic keeps on an instance (its dict, fields set, extra and private attributes).
    assert decoded.__getstate__() == expected.__getstate__()
    assert decoded.data.model_fields_set == expected.data.model_fields_set
    assert decoded.model_dump_json() == expected.model_dump_json()


@pytest.mark.parametrize("source", ["bench", "samples"])
def test_every_valid_record_decodes_to_the_same_envelope_both_ways(source: str) -> None:
    records = BENCH if source == "bench" else SAMPLES
    kinds = set()
    for raw, key in records:
        for _, variant in _variants(raw):
            _assert_same(variant, key)
            _assert_same(variant, None)
        document = _document(raw)
        kinds.add((document["type"], document["schemaversion"]))
    # The samples: every registered kind; the benchmarks' journeys: the 14 kinds they are made of.
    assert kinds == set(EVENT_TYPES) if source == "samples" else len(kinds) == 14


def test_a_valid_record_is_decoded_without_the_step_by_step_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Envelope[Any]:
        raise AssertionError("a valid record went the step-by-step way")

    monkeypatch.setattr(envelope_module, "decode_step_by_step", refuse)
    for raw, key in [*BENCH, *SAMPLES]:
        decode(raw, key)


def _mutations() -> dict[str, Callable[[dict[str, Any]], bytes]]:
    def set_attr(name: str, value: Any) -> Callable[[dict[str, Any]], bytes]:
        return lambda document: _dumps({**document, name: value})

    def set_data(name: str, value: Any) -> Callable[[dict[str, Any]], bytes]:
        return lambda document: _dumps({**document, "data": {**document["data"], name: value}})

    def drop(name: str) -> Callable[[dict[str, Any]], bytes]:
        return lambda document: _dumps({k: v for k, v in document.items() if k != name})

    return {
        "NaN in an extension attribute": lambda d: _dumps(d).replace(b"{", b'{"x":NaN,', 1),
        "Infinity in the data": lambda d: _dumps(d).replace(b'"data":{', b'"data":{"x":-Infinity,', 1),
        "NaN at the end, after other capitals": lambda d: _dumps(d)[:-1] + b',"z":[NaN]}',
        "Infinity at the end, after other capitals": lambda d: _dumps(d)[:-1] + b',"z":[1,Infinity]}',
        "NaN as schemaversion": lambda d: _dumps(d).replace(
            b'"schemaversion":%d' % d["schemaversion"], b'"schemaversion":NaN'
        ),
        "schemaversion as float": lambda d: _dumps(d).replace(
            b'"schemaversion":%d' % d["schemaversion"], b'"schemaversion":%d.0' % d["schemaversion"]
        ),
        "schemaversion as text": set_attr("schemaversion", "1"),
        "schemaversion true": set_attr("schemaversion", True),
        "schemaversion unknown": set_attr("schemaversion", 99),
        "schemaversion unknown, no dataschema": lambda d: _dumps(
            {**{k: v for k, v in d.items() if k != "dataschema"}, "schemaversion": 99}
        ),
        "schemaversion a list": set_attr("schemaversion", [1]),
        "type unknown": set_attr("type", "postal.dossier_teleported"),
        "type of another event": set_attr("type", "postal.item_lost"),
        "type of another event, data first": lambda d: _dumps(
            {"data": d["data"], **{k: v for k, v in d.items() if k != "data"}, "type": "postal.item_lost"}
        ),
        "type a number": set_attr("type", 7),
        "type empty": set_attr("type", ""),
        "no type": drop("type"),
        "no data": drop("data"),
        "data null": set_attr("data", None),
        "data a list": set_attr("data", []),
        "data of another type": set_data("type", "postal.item_lost"),
        "data of another version": set_data("version", 9),
        "data field wrong": set_data("agency_code", "H22"),
        "dataschema of another type": set_attr("dataschema", "urn:dossier-post:schemas:postal.item_lost.v1"),
        "datacontenttype xml": set_attr("datacontenttype", "application/xml"),
        "specversion 0.3": set_attr("specversion", "0.3"),
        "id not a uuid": set_attr("id", "not-a-uuid"),
        "subject upper case": lambda d: _dumps({**d, "subject": d["subject"].upper()}),
        "time without offset": set_attr("time", "2025-03-14T09:30:00"),
        "time with no date in Vietnam": set_attr("time", "0001-01-01T00:00:00+14:00"),
        "time at the end of the calendar": set_attr("time", "9999-12-31T23:30:00+00:00"),
        "source with a space": set_attr("source", "/post offices/1"),
        "invalid UTF-8 in an extension": lambda d: _dumps(d).replace(b"{", b'{"x":"\xff",', 1),
        "trailing text": lambda d: _dumps(d) + b" x",
        "invalid UTF-8 in the type": lambda d: _dumps(d).replace(b'"type":"', b'"type":"\xc3', 1),
        "cut in the type": lambda d: _dumps(d)[: _dumps(d).find(b'"type":"') + 12],
        "not an object": lambda d: _dumps(d["data"]).join([b"[", b"]"]),
        "duplicate type, last one wrong": lambda d: _dumps(d).replace(
            b'"type":"%s"' % d["type"].encode(),
            b'"type":"%s","type":"postal.item_lost"' % d["type"].encode(),
            1,
        ),
    }


MUTATIONS = _mutations()


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_an_invalid_record_gets_the_same_reason_and_detail_both_ways(mutation: str) -> None:
    for raw, key in SAMPLES[::3] + BENCH[::40]:
        mutated = MUTATIONS[mutation](_document(raw))
        _assert_same(mutated, key)
        _assert_same(mutated, None)
    with pytest.raises(ContractError):
        decode(MUTATIONS[mutation](_document(BENCH[0][0])), BENCH[0][1])


def test_a_key_other_than_the_subject_is_the_same_key_mismatch_both_ways() -> None:
    for raw, _ in BENCH[::50]:
        _assert_same(raw, str(uuid.uuid4()).encode())
        _assert_same(raw, b"")


def test_an_oversize_record_is_refused_before_it_is_parsed() -> None:
    raw, key = BENCH[0]
    with pytest.raises(ContractError) as caught:
        decode(raw, key, max_bytes=len(raw) - 1)
    assert caught.value.reason.value == "oversize"
    assert decode(raw, key, max_bytes=len(raw)) == decode_step_by_step(raw, key)

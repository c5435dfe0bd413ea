"""Every producer of the project puts a dossier's events on the partition Kafka's own clients would
(murmur2 of the key): consumers rely on one dossier's events sharing a partition across services, and a
topic's partition of a key must not depend on which process published it."""

from __future__ import annotations

import random
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner

from services.shared.kafka import keyed_partitioner


@pytest.mark.parametrize("partitions", [1, 3, 12, 64])
def test_a_key_goes_to_the_partition_aiokafkas_default_partitioner_chooses(partitions: int) -> None:
    everything = list(range(partitions))
    rng = random.Random(partitions)
    keys = [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(2_000)]
    chosen = [keyed_partitioner(key, everything, everything) for key in keys]
    assert chosen == [DefaultPartitioner()(key, everything, everything) for key in keys]
    # Asked again (from the remembered hashes), the same answers.
    assert [keyed_partitioner(key, everything, everything) for key in keys] == chosen
    if partitions > 1:
        assert len(set(chosen)) == partitions


def test_keys_whose_hash_is_negative_are_placed_as_kafka_places_them() -> None:
    # murmur2 returns a signed 32-bit value; Kafka clears the sign bit before taking the modulo.
    everything = list(range(7))
    keys = [f"dossier-{n}".encode() for n in range(500)]
    assert [keyed_partitioner(k, everything, everything) for k in keys] == [
        DefaultPartitioner()(k, everything, everything) for k in keys
    ]


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    assert keyed_partitioner(None, [0, 1, 2, 3], [2]) == 2

"""A consumer catching up reads the postal and agency topics level in time (services.shared.alignment):
what runs ahead waits, rewound and paused, until its peer has caught up; nothing waits in live traffic,
and the slowest partition never waits, so the consumer always progresses."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from services.shared.alignment import TimeAlignment, watermarks

POSTAL = "postal.events.v1"
AGENCY = "agency.events.v1"


def tp(topic: str, partition: int = 0) -> TopicPartition:
    return TopicPartition(topic, partition)


def test_the_laggard_of_a_group_is_read_whole_and_its_peers_up_to_just_before_its_time() -> None:
    newest = {tp(POSTAL): 1_000, tp(AGENCY): 5_000, tp("third"): 3_000}
    assert watermarks(newest, newest, lagging=set(newest)) == {
        tp(POSTAL): 1_000,
        tp(AGENCY): 999,
        tp("third"): 999,
    }


def test_of_two_partitions_at_the_same_time_exactly_one_is_the_laggard() -> None:
    # Producers stamp many records a millisecond: the peer waits for the laggard to pass that one.
    newest = {tp(POSTAL): 5_000, tp(AGENCY): 5_000}
    assert watermarks(newest, newest, lagging=set(newest)) == {tp(AGENCY): 5_000, tp(POSTAL): 4_999}


def test_a_peer_with_nothing_left_to_read_limits_nobody() -> None:
    newest = {tp(POSTAL): 1_000, tp(AGENCY): 5_000}
    assert watermarks(newest, newest, lagging={tp(AGENCY)}) == {tp(POSTAL): 4_999, tp(AGENCY): 5_000}
    assert watermarks(newest, newest, lagging=set()) == {}


def test_a_lagging_peer_nothing_was_read_from_yet_holds_the_others_back() -> None:
    assigned = {tp(POSTAL), tp(AGENCY)}
    assert watermarks(assigned, {tp(AGENCY): 5_000}, lagging=assigned) == {
        tp(POSTAL): -1,
        tp(AGENCY): -2,
    }


def test_only_the_same_partition_number_of_other_topics_are_peers() -> None:
    newest = {tp(POSTAL, 0): 1_000, tp(AGENCY, 0): 2_000, tp(AGENCY, 1): 5_000, tp(POSTAL, 1): 6_000}
    assert watermarks(newest, newest, lagging=set(newest)) == {
        tp(POSTAL, 0): 1_000,
        tp(AGENCY, 0): 999,
        tp(AGENCY, 1): 5_000,
        tp(POSTAL, 1): 4_999,
    }


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: int


@dataclass
class Consumer:
    """The few public calls of aiokafka's consumer the alignment makes, over a fixed assignment."""

    assigned: set[TopicPartition]
    ends: dict[TopicPartition, int]
    held: set[TopicPartition] = field(default_factory=set)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    calls: list[tuple[str, tuple[TopicPartition, ...]]] = field(default_factory=list)

    def assignment(self) -> Set[TopicPartition]:
        return self.assigned

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.ends.get(partition)

    def paused(self) -> Set[TopicPartition]:
        return set(self.held)

    def pause(self, *partitions: TopicPartition) -> None:
        self.calls.append(("pause", partitions))
        self.held |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.calls.append(("resume", partitions))
        self.held -= set(partitions)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    async def position(self, partition: TopicPartition) -> int:
        return self.positions.get(partition, 0)


def records(topic: str, times: list[int], first_offset: int = 0) -> list[Record]:
    return [Record(topic, 0, first_offset + n, t) for n, t in enumerate(times)]


async def test_records_newer_than_the_lagging_peer_wait_rewound_and_paused() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 100})
    alignment = TimeAlignment()
    postal = records(POSTAL, [100, 200, 300])
    agency = records(AGENCY, [150, 250, 900, 400])
    ready = await alignment.release(consumer, [*agency, *postal])
    # The agency partition up to the postal one's newest time; from its first newer record on, it
    # waits (a prefix: the 400 after the 900 waits too, to keep the partition's order).
    assert ready == [*agency[:2], *postal]
    assert consumer.positions == {tp(AGENCY): 2}
    assert consumer.held == {tp(AGENCY)}


async def test_a_waiting_partition_goes_on_once_its_peer_has_caught_up_in_time() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 100})
    alignment = TimeAlignment()
    await alignment.release(consumer, [*records(AGENCY, [50, 900]), *records(POSTAL, [100])])
    assert consumer.held == {tp(AGENCY)}
    ready = await alignment.release(consumer, records(POSTAL, [500, 950], first_offset=1))
    # Now the postal partition (records left) is ahead of the agency one (records left too).
    assert [r.timestamp for r in ready] == [500]
    assert consumer.held == {tp(POSTAL)}
    assert consumer.positions == {tp(AGENCY): 1, tp(POSTAL): 2}
    # The agency partition's last record: nothing older can come from it, so the postal one goes on.
    consumer.ends[tp(AGENCY)] = 2
    again = await alignment.release(consumer, records(AGENCY, [900], first_offset=1))
    assert [r.timestamp for r in again] == [900]
    assert consumer.calls == [
        ("pause", (tp(AGENCY),)),
        ("pause", (tp(POSTAL),)),
        ("resume", (tp(AGENCY),)),
        ("resume", (tp(POSTAL),)),
    ]


async def test_in_live_traffic_every_partition_is_at_its_end_and_everything_is_released() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1, tp(AGENCY): 1})
    batch = [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])]
    assert await TimeAlignment().release(consumer, batch) == batch
    assert consumer.calls == [] and consumer.positions == {}


async def test_a_peer_that_reached_its_end_releases_the_partition_it_held() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 3, tp(AGENCY): 100})
    alignment = TimeAlignment()
    await alignment.release(consumer, [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])])
    assert consumer.held == {tp(AGENCY)}
    last = records(POSTAL, [1_500, 2_000], first_offset=1)  # the last postal records, still older
    assert await alignment.release(consumer, last) == last
    assert consumer.held == set()


async def test_the_caller_may_say_where_each_partition_ends() -> None:
    # A rebuild stops at the end offsets it saw at start, though more records keep arriving.
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 1_000})
    batch = [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])]
    ends = {tp(POSTAL): 1, tp(AGENCY): 1_000}
    assert await TimeAlignment().release(consumer, batch, ends) == batch
    assert await TimeAlignment().release(consumer, batch) == batch[:1]


async def test_records_sent_back_to_wait_count_as_read_so_two_partitions_never_wait_for_each_other() -> None:
    # Two records a partition, all stamped in the same millisecond, read one batch at a time.
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 2, tp(AGENCY): 2})
    alignment = TimeAlignment()
    first = await alignment.release(consumer, [*records(POSTAL, [5]), *records(AGENCY, [5])])
    assert first == records(AGENCY, [5]) and consumer.positions == {tp(POSTAL): 0}
    # The agency partition's last record waits for the postal partition, which has a record unread.
    assert await alignment.release(consumer, records(AGENCY, [5], first_offset=1)) == []
    assert consumer.positions == {tp(POSTAL): 0, tp(AGENCY): 1}
    # The postal partition read to its end: nothing is left unread anywhere, nothing waits any more
    # (counting the agency record sent back as unread would make each wait for the other for ever).
    both = records(POSTAL, [5, 5])
    assert await alignment.release(consumer, both) == both
    again = records(AGENCY, [5], first_offset=1)
    assert await alignment.release(consumer, again) == again
    assert consumer.held == set()


async def test_partitions_revoked_in_a_rebalance_are_forgotten() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 1_000})
    alignment = TimeAlignment()
    await alignment.release(consumer, [*records(POSTAL, [1_000]), *records(AGENCY, [9_000])])
    assert consumer.held == {tp(AGENCY)}
    # The agency partition went to another member; the postal one goes on alone.
    consumer.assigned = {tp(POSTAL)}
    await alignment.release(consumer, records(POSTAL, [1_100], first_offset=1))
    assert tp(POSTAL) not in consumer.held
    # Given back later, it is judged by what is read from it from then on, not by its old time: until
    # it is read, the postal partition waits.
    consumer.assigned = {tp(POSTAL), tp(AGENCY)}
    assert await alignment.release(consumer, records(POSTAL, [1_200], first_offset=2)) == []
    assert consumer.held == {tp(POSTAL)} and consumer.positions[tp(POSTAL)] == 2
    # Read, it is ahead of the postal partition, and waits in its turn.
    assert await alignment.release(consumer, records(AGENCY, [1_300])) == []
    assert consumer.held == {tp(AGENCY)}


async def test_the_newest_time_only_moves_forward() -> None:
    consumer = Consumer({tp(POSTAL), tp(AGENCY)}, {tp(POSTAL): 1_000, tp(AGENCY): 1_000})
    # An agency record out of time order (an offline producer's) does not pull its partition back.
    batch = [*records(AGENCY, [9_000, 2_000]), *records(POSTAL, [5_000])]
    assert await TimeAlignment().release(consumer, batch) == batch[2:]
    assert consumer.held == {tp(AGENCY)}

"""A nonconformity's state machine (services/turnaround/quality/nonconformities.py), every cell of it:
open → analysed (cause) → action_taken (correction, corrective action) → verified (verification) →
closed; everything else refused with the reason the caller must act on."""

from __future__ import annotations

import itertools

import pytest

from services.turnaround.quality.nonconformities import (
    MAX_TEXT,
    Action,
    Change,
    Refusal,
    State,
    StepRefusedError,
    Text,
    step,
)

TEXTS = {
    Action.ANALYSE: {Text.CAUSE: "Officer on leave, no substitute assigned"},
    Action.TAKE_ACTION: {
        Text.CORRECTION: "Result issued on 6 March",
        Text.CORRECTIVE_ACTION: "A substitute is named for every desk in the weekly roster",
    },
    Action.VERIFY: {Text.VERIFICATION: "No late result in the next two months"},
    Action.CLOSE: {},
}
ALLOWED = {
    (State.OPEN, Action.ANALYSE): State.ANALYSED,
    (State.ANALYSED, Action.TAKE_ACTION): State.ACTION_TAKEN,
    (State.ACTION_TAKEN, Action.VERIFY): State.VERIFIED,
    (State.VERIFIED, Action.CLOSE): State.CLOSED,
}
CELLS = list(itertools.product(State, Action))


@pytest.mark.parametrize(("state", "action"), CELLS, ids=[f"{s}-{a}" for s, a in CELLS])
def test_each_step_is_allowed_only_from_the_state_before_it(state: State, action: Action) -> None:
    if (state, action) in ALLOWED:
        change = step(state, 3, action, 3, TEXTS[action])
        assert change == Change(state, ALLOWED[(state, action)], 4, TEXTS[action])
    else:
        with pytest.raises(StepRefusedError) as refused:
            step(state, 3, action, 3, TEXTS[action])
        assert refused.value.reason is Refusal.TRANSITION_NOT_ALLOWED
        assert f"this one is {state.value}" in refused.value.detail


def test_the_four_allowed_steps_take_a_nonconformity_from_open_to_closed() -> None:
    state, version = State.OPEN, 1
    for action in (Action.ANALYSE, Action.TAKE_ACTION, Action.VERIFY, Action.CLOSE):
        change = step(state, version, action, version, TEXTS[action])
        state, version = change.target, change.version
    assert (state, version) == (State.CLOSED, 5)
    assert len(ALLOWED) == 4


@pytest.mark.parametrize("action", list(Action))
def test_a_step_on_a_stale_version_is_refused_before_anything_else(action: Action) -> None:
    state = next(s for (s, a) in ALLOWED if a is action)
    for read in (1, 3):
        with pytest.raises(StepRefusedError) as refused:
            step(state, 2, action, read, TEXTS[action])
        assert refused.value.reason is Refusal.STALE_VERSION
        assert "version 2, not" in refused.value.detail
    with pytest.raises(StepRefusedError) as stale_and_out_of_order:
        step(State.CLOSED, 2, action, 1, {})
    assert stale_and_out_of_order.value.reason is Refusal.STALE_VERSION


@pytest.mark.parametrize(
    ("action", "state", "texts", "missing"),
    [
        (Action.ANALYSE, State.OPEN, {}, "cause"),
        (Action.ANALYSE, State.OPEN, {Text.CAUSE: "   "}, "cause"),
        (Action.TAKE_ACTION, State.ANALYSED, {Text.CORRECTION: "Issued"}, "corrective_action"),
        (Action.TAKE_ACTION, State.ANALYSED, {Text.CORRECTIVE_ACTION: "Roster"}, "correction"),
        (Action.TAKE_ACTION, State.ANALYSED, {}, "correction, corrective_action"),
        (Action.VERIFY, State.ACTION_TAKEN, {Text.VERIFICATION: ""}, "verification"),
    ],
)
def test_a_step_without_its_required_text_is_refused_naming_it(
    action: Action, state: State, texts: dict[Text, str], missing: str
) -> None:
    with pytest.raises(StepRefusedError) as refused:
        step(state, 1, action, 1, texts)
    assert refused.value.reason is Refusal.MISSING_TEXT
    assert refused.value.detail == f"{action.value} needs {missing}"


@pytest.mark.parametrize(
    ("action", "state", "extra"),
    [
        (Action.ANALYSE, State.OPEN, Text.VERIFICATION),
        (Action.TAKE_ACTION, State.ANALYSED, Text.CAUSE),
        (Action.VERIFY, State.ACTION_TAKEN, Text.CORRECTION),
        (Action.CLOSE, State.VERIFIED, Text.CAUSE),
    ],
)
def test_a_text_of_another_step_is_refused_rather_than_dropped(
    action: Action, state: State, extra: Text
) -> None:
    with pytest.raises(StepRefusedError) as refused:
        step(state, 1, action, 1, {**TEXTS[action], extra: "something"})
    assert refused.value.reason is Refusal.TEXT_NOT_FOR_THIS_STEP
    assert refused.value.detail == f"{action.value} does not record {extra.value}"


def test_a_text_is_kept_up_to_its_bound_and_stripped() -> None:
    exactly = "x" * MAX_TEXT
    kept = step(State.OPEN, 1, Action.ANALYSE, 1, {Text.CAUSE: f"  {exactly} \n"})
    assert kept.texts == {Text.CAUSE: exactly}
    with pytest.raises(StepRefusedError) as refused:
        step(State.OPEN, 1, Action.ANALYSE, 1, {Text.CAUSE: exactly + "x"})
    assert refused.value.reason is Refusal.TEXT_TOO_LONG
    assert refused.value.detail == f"cause: at most {MAX_TEXT} characters"


def test_a_refusal_names_every_text_at_fault_and_reads_as_its_detail() -> None:
    with pytest.raises(StepRefusedError) as extra:
        step(State.VERIFIED, 1, Action.CLOSE, 1, {Text.VERIFICATION: "v", Text.CAUSE: "c"})
    assert str(extra.value) == extra.value.detail == "close does not record cause, verification"
    long = "x" * (MAX_TEXT + 1)
    with pytest.raises(StepRefusedError) as too_long:
        step(State.ANALYSED, 1, Action.TAKE_ACTION, 1, {Text.CORRECTION: long, Text.CORRECTIVE_ACTION: long})
    assert too_long.value.detail == f"correction, corrective_action: at most {MAX_TEXT} characters"

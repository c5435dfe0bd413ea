"""A nonconformity's life (ISO 9001:2015 cl. 10.2): open → analysed → action_taken → verified → closed.

Each step records what the clause asks of it: the cause (analysed), the correction and the corrective
action (action_taken), the verification of the action's effectiveness (verified); closing records nothing
more. A step is taken on the version the caller read (optimistic concurrency: two officers editing the
same nonconformity do not overwrite each other). Pure: the caller loads, applies, stores and audits.

The texts are free texts of staff: bounded (MAX_TEXT characters) and, like everything in the register,
they must not hold personal data (the applicant's name, phone, address, ID numbers) — the register is kept
for years and read by units that never see the applicant; the facts say which dossier it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    OPEN = "open"
    ANALYSED = "analysed"
    ACTION_TAKEN = "action_taken"
    VERIFIED = "verified"
    CLOSED = "closed"


class Action(StrEnum):
    ANALYSE = "analyse"
    TAKE_ACTION = "take_action"
    VERIFY = "verify"
    CLOSE = "close"


class Text(StrEnum):
    """The texts a step records (the register's columns)."""

    CAUSE = "cause"
    CORRECTION = "correction"
    CORRECTIVE_ACTION = "corrective_action"
    VERIFICATION = "verification"


MAX_TEXT = 2000
"""Characters of one text: a paragraph, not a file."""


@dataclass(frozen=True)
class Step:
    source: State
    target: State
    requires: tuple[Text, ...]


STEPS: Mapping[Action, Step] = {
    Action.ANALYSE: Step(State.OPEN, State.ANALYSED, (Text.CAUSE,)),
    Action.TAKE_ACTION: Step(State.ANALYSED, State.ACTION_TAKEN, (Text.CORRECTION, Text.CORRECTIVE_ACTION)),
    Action.VERIFY: Step(State.ACTION_TAKEN, State.VERIFIED, (Text.VERIFICATION,)),
    Action.CLOSE: Step(State.VERIFIED, State.CLOSED, ()),
}


class Refusal(StrEnum):
    """Why a step is refused (the problem's `reason`)."""

    STALE_VERSION = "stale_version"
    TRANSITION_NOT_ALLOWED = "transition_not_allowed"
    MISSING_TEXT = "missing_text"
    TEXT_NOT_FOR_THIS_STEP = "text_not_for_this_step"
    TEXT_TOO_LONG = "text_too_long"


class StepRefusedError(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Change:
    """What a step changes: the new state and version, and the texts it records."""

    source: State
    target: State
    version: int
    texts: Mapping[Text, str]


def step(
    state: State, version: int, action: Action, expected_version: int, texts: Mapping[Text, str]
) -> Change:
    """The change `action` makes to a nonconformity in `state` at `version`, or StepRefusedError.

    Checked in this order, so the reason names what the caller must fix first: the version it read, the
    order of the steps, then the texts (each required one given and not blank, none of another step,
    none longer than MAX_TEXT)."""
    if expected_version != version:
        raise StepRefusedError(
            Refusal.STALE_VERSION,
            f"the nonconformity is at version {version}, not {expected_version}: read it again",
        )
    rule = STEPS[action]
    if state is not rule.source:
        raise StepRefusedError(
            Refusal.TRANSITION_NOT_ALLOWED,
            f"{action.value} takes a nonconformity from {rule.source.value} to {rule.target.value}; "
            f"this one is {state.value}",
        )
    cleaned = {name: text.strip() for name, text in texts.items()}
    extra = sorted(name.value for name in cleaned if name not in rule.requires)
    if extra:
        raise StepRefusedError(
            Refusal.TEXT_NOT_FOR_THIS_STEP, f"{action.value} does not record {', '.join(extra)}"
        )
    missing = [name.value for name in rule.requires if not cleaned.get(name)]
    if missing:
        raise StepRefusedError(Refusal.MISSING_TEXT, f"{action.value} needs {', '.join(missing)}")
    too_long = sorted(name.value for name, text in cleaned.items() if len(text) > MAX_TEXT)
    if too_long:
        raise StepRefusedError(Refusal.TEXT_TOO_LONG, f"{', '.join(too_long)}: at most {MAX_TEXT} characters")
    return Change(state, rule.target, version + 1, cleaned)

"""The dispute state machine: one explicit table of the moves allowed, and who may make them.

    open -> under_review -> info_requested -> under_review -> accepted | partially_accepted
                                                            | rejected
    open -> withdrawn (by the one who opened it)

Every other move is refused with a message naming the dispute's state and what it allows.
Pure: no database; `operations.py` asks `next_state` inside its transaction.
"""

from __future__ import annotations

from chargeback.disputes.models import State

# action -> {from state: to state}
TRANSITIONS: dict[str, dict[str, str]] = {
    "start_review": {State.OPEN: State.UNDER_REVIEW},
    "request_info": {State.UNDER_REVIEW: State.INFO_REQUESTED},
    "answer_info": {State.INFO_REQUESTED: State.UNDER_REVIEW},
    "accept": {State.UNDER_REVIEW: State.ACCEPTED},
    "partially_accept": {State.UNDER_REVIEW: State.PARTIALLY_ACCEPTED},
    "reject": {State.UNDER_REVIEW: State.REJECTED},
    "withdraw": {State.OPEN: State.WITHDRAWN},
}
# Who may make each move: finance (finance and admins), the opener, or the unit's side (its
# team leads, the opener, finance and admins).
ACTORS: dict[str, str] = {
    "start_review": "finance",
    "request_info": "finance",
    "answer_info": "unit",
    "accept": "finance",
    "partially_accept": "finance",
    "reject": "finance",
    "withdraw": "opener",
}
OUTCOMES = {
    State.ACCEPTED: "accept",
    State.PARTIALLY_ACCEPTED: "partially_accept",
    State.REJECTED: "reject",
}
ACTIVE = frozenset({State.OPEN, State.UNDER_REVIEW, State.INFO_REQUESTED})
RESOLVED = frozenset(OUTCOMES)
CLOSED = RESOLVED | {State.WITHDRAWN}
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    (source, target) for moves in TRANSITIONS.values() for source, target in moves.items()
)
VERBS = {
    "start_review": "start the review of",
    "request_info": "request information on",
    "answer_info": "answer",
    "accept": "accept",
    "partially_accept": "partially accept",
    "reject": "reject",
    "withdraw": "withdraw",
}


class TransitionRefused(Exception):
    """A move the table does not allow from the dispute's current state."""


def allowed_actions(state: str) -> list[str]:
    """The actions the table allows from `state`, in table order."""
    return [action for action, moves in TRANSITIONS.items() if state in moves]


def next_state(action: str, state: str, *, dispute_id: object = "") -> str:
    """The state `action` leads to from `state`; TransitionRefused when the table has no such
    move: `cannot accept dispute 7: it is accepted (nothing more can happen to it)`."""
    if action not in TRANSITIONS:
        raise ValueError(f"unknown dispute action {action!r}")
    target = TRANSITIONS[action].get(state)
    if target is not None:
        return target
    label = State(state).label.lower()
    possible = allowed_actions(state)
    hint = (
        "it allows: " + ", ".join(a.replace("_", " ") for a in possible)
        if possible
        else "nothing more can happen to it"
    )
    name = f"dispute {dispute_id}" if dispute_id != "" else "the dispute"
    raise TransitionRefused(f"cannot {VERBS[action]} {name}: it is {label} ({hint})")

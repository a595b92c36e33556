"""The state machine: the table itself (pure), and every allowed and every refused move made
through the real operations, by the role allowed to make it."""

from __future__ import annotations

import itertools

import pytest

from chargeback.disputes import operations as ops
from chargeback.disputes.models import Dispute, DisputeEvent, State
from chargeback.disputes.workflow import (
    ALLOWED,
    TRANSITIONS,
    TransitionRefused,
    allowed_actions,
    next_state,
)
from chargeback.tenancy.scoping import within
from tests.disputes.conftest import ISSUED_ON

DAY = ISSUED_ON


def test_the_table_is_the_documented_machine():
    assert {
        (State.OPEN, State.UNDER_REVIEW),
        (State.UNDER_REVIEW, State.INFO_REQUESTED),
        (State.INFO_REQUESTED, State.UNDER_REVIEW),
        (State.UNDER_REVIEW, State.ACCEPTED),
        (State.UNDER_REVIEW, State.PARTIALLY_ACCEPTED),
        (State.UNDER_REVIEW, State.REJECTED),
        (State.OPEN, State.WITHDRAWN),
    } == ALLOWED
    assert allowed_actions(State.OPEN) == ["start_review", "withdraw"]
    for final in (State.ACCEPTED, State.PARTIALLY_ACCEPTED, State.REJECTED, State.WITHDRAWN):
        assert allowed_actions(final) == []


@pytest.mark.parametrize(("action", "state"), list(itertools.product(TRANSITIONS, State.values)))
def test_next_state_allows_exactly_the_table(action, state):
    if state in TRANSITIONS[action]:
        assert next_state(action, state) == TRANSITIONS[action][state]
    else:
        with pytest.raises(TransitionRefused, match=r"^cannot .* dispute 7: it is "):
            next_state(action, state, dispute_id=7)


def test_a_refusal_says_the_state_and_what_it_allows():
    with pytest.raises(TransitionRefused) as caught:
        next_state("accept", State.INFO_REQUESTED, dispute_id=3)
    assert str(caught.value) == (
        "cannot accept dispute 3: it is information requested (it allows: answer info)"
    )
    with pytest.raises(TransitionRefused, match="nothing more can happen to it"):
        next_state("withdraw", State.REJECTED, dispute_id=3)


def _dispute_in(org, statement, opener, state) -> Dispute:
    d = ops.open_dispute(
        membership=opener, statement=statement, amount="1.00", reason="tags",
        description="not ours", today=DAY,
    )  # fmt: skip
    Dispute.objects.filter(pk=d.pk).update(
        state=state, paused_since=DAY if state == State.INFO_REQUESTED else None
    )
    return Dispute.objects.get(pk=d.pk)


def _run(action, dispute, people):
    fin, lead = people["finance"], people["sup_lead"]
    if action == "start_review":
        return ops.start_review(membership=fin, dispute=dispute, today=DAY)
    if action == "request_info":
        return ops.request_info(membership=fin, dispute=dispute, text="which requests?", today=DAY)
    if action == "answer_info":
        return ops.answer_info(membership=lead, dispute=dispute, text="req-1, req-2", today=DAY)
    if action == "withdraw":
        return ops.withdraw(membership=lead, dispute=dispute, today=DAY)
    outcome = {"accept": "accepted", "partially_accept": "partially_accepted"}.get(
        action, "rejected"
    )
    amount = "0.50" if outcome == "partially_accepted" else None
    return ops.resolve(
        membership=fin, dispute=dispute, outcome=outcome, amount=amount, text="checked",
        today=DAY,
    )  # fmt: skip


@pytest.mark.parametrize(("action", "state"), list(itertools.product(TRANSITIONS, State.values)))
def test_every_move_through_the_operations(issued, statements, people, action, state):
    with within(issued):
        dispute = _dispute_in(issued, statements["SUP"], people["sup_lead"], state)
        events = DisputeEvent.objects.filter(dispute=dispute).count()
        # Resolving an open dispute starts its review first (both steps on the timeline).
        resolving_open = action in ("accept", "partially_accept", "reject") and state == "open"
        if state in TRANSITIONS[action] or resolving_open:
            done = _run(action, dispute, people)
            assert done.state == TRANSITIONS[action].get(
                state, TRANSITIONS[action].get("under_review")
            )
            added = DisputeEvent.objects.filter(dispute=dispute).count() - events
            assert added == (2 if resolving_open else 1)
        else:
            with pytest.raises(ops.DisputeError, match=rf"^cannot .* dispute {dispute.pk}: it is "):
                _run(action, dispute, people)
            dispute.refresh_from_db()
            assert dispute.state == state
            assert DisputeEvent.objects.filter(dispute=dispute).count() == events

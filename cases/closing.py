"""The end of the appeal window: with no appeal lodged, the decision takes effect and the
case closes by itself.

The deadline worker calls this when the window's one step falls due, in the transaction
that claims the step (its case row locked), so it happens exactly once. It is the `close`
transition without a person: no actor, the same stage entry, audit event and stage run as
a manual close (whose run sends the closing notices and builds the case file), and its
data say it was automatic because the window ended. Like a staff transition it moves the
version: the stage changed, so an ETag of the appeal window no longer describes the case.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cases.context import CaseContext
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Action, Stage
from cases.store.models import ConductCase, Person
from cases.transitions import enter_stage, record_event

WINDOW_ENDED = "appeal_window_ended"


def close_after_window(
    session: Session, case_ids: list[int], *, policy: Policy, now: datetime
) -> list[int]:
    """Close each case still in its appeal window; returns those closed."""
    closed = []
    for case_id in case_ids:
        case = session.get(ConductCase, case_id)
        if case is None or case.stage != Stage.APPEAL_WINDOW:
            continue  # the step was cancelled with the stage: only a stray row gets here
        _close(session, case, policy=policy, now=now)
        closed.append(case_id)
    return closed


def _close(session: Session, case: ConductCase, *, policy: Policy, now: datetime) -> None:
    ends = case.appeal_window_ends_at
    # The stage rules see no person here: nobody acts, the window's end does.
    nobody = Person(handle="system", name="system", created_at=now)
    ctx = CaseContext(
        case=case, actor=nobody, roles=frozenset(), parties=[], policy=policy, now=now
    )
    enter_stage(session, ctx, Stage.CLOSED)
    case.version += 1
    record_event(
        session,
        case,
        action=Action.CLOSE,
        actor_id=None,
        data={
            "automatic": True,
            "because": WINDOW_ENDED,
            "appeal_window_ended_at": ends.isoformat() if ends else None,
            "decision": case.decision,
        },
        now=now,
        stage_changed=True,
        policy=policy,
    )

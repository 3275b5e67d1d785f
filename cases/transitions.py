"""What every transition does, by a person or by a deadline: record the audit event with
the outbox row that carries it on, and leave one stage for the next."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cases.audit import append_event, case_chain
from cases.context import CaseContext
from cases.deadlines.steps import cancel_pending, lapse_extension_request, open_stage
from cases.effects import on_enter
from cases.notices import event_payload, notify
from cases.outbox import STAGE_FLOW, enqueue, stage_flow_key
from cases.papers.numbering import issue_if_decided
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.store.models import ConductCase


def record_event(
    session: Session,
    case: ConductCase,
    *,
    action: str,
    actor_id: int | None,
    data: dict[str, object],
    now: datetime,
    stage_changed: bool,
    policy: Policy,
) -> int:
    """Audit event plus the outbox row that carries it on; returns the event's number.

    A stage change starts the stage's flow run, which also prepares its notifications;
    other events that concern people go to the notification dispatcher directly.
    """
    assert case.id is not None
    if stage_changed:  # the stage entered and its due time, as the timeline's own record
        data = {
            **data,
            "stage": case.stage,
            "due_at": case.due_at.isoformat() if case.due_at else None,
        }
    # The decision notice, when this event makes a decision stand: issued, and so on the
    # chain, just before the event itself (that event stays the case's last).
    issue_if_decided(
        session, case, action=action, actor_id=actor_id, stage_changed=stage_changed,
        now=now, policy=policy,
    )  # fmt: skip
    event = append_event(
        session,
        chain=case_chain(case.id),
        case_id=case.id,
        actor_id=actor_id,
        action=f"case.{action}",
        at=now,
        data=data,
    )
    _carry_on(
        session,
        case,
        action=action,
        seq=event.seq,
        now=now,
        stage_changed=stage_changed,
        policy=policy,
    )
    return event.seq


def _carry_on(
    session: Session,
    case: ConductCase,
    *,
    action: str,
    seq: int,
    now: datetime,
    stage_changed: bool,
    policy: Policy,
) -> None:
    """The outbox row for event ``seq``: the stage's flow run after a stage change, else a
    notification when the event concerns people; nothing otherwise."""
    assert case.id is not None
    if stage_changed:
        key = stage_flow_key(case.id, case.stage, seq)
        payload = event_payload(case, action, seq)
        enqueue(session, key=key, topic=STAGE_FLOW, payload=payload, now=now, case_id=case.id)
    else:
        notify(session, case, event=action, seq=seq, now=now, policy=policy)


def enter_stage(session: Session, ctx: CaseContext, target: Stage) -> None:
    """Leave the current stage (pending steps cancelled, an open request lapsed), enter
    ``target`` and write its ladder."""
    case = ctx.case
    cancel_pending(session, case)
    lapse_extension_request(session, case, ctx.now)
    case.stage = target
    case.stage_entry += 1
    case.stage_entered_at = ctx.now
    on_enter(ctx, target)
    open_stage(session, case, ctx.policy, ctx.now)
    if target is Stage.APPEAL_WINDOW:
        case.appeal_window_ends_at = case.due_at

"""Issuing a decision notice: its number <prefix>〔<year>〕<n>号 (n per Asia/Shanghai calendar
year, no gaps, no doubles), its row and its audit event, all in the transaction of the
action that makes the decision stand, so a rolled-back action issues nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.procedure.clock import local_date
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Action, AppealOutcome, Stage
from cases.store.models import ConductCase, pk
from cases.store.papers import DecisionNotice, DecisionNoticeCounter, NoticeKind

ISSUED_EVENT = "decision_notice.issued"


def notice_number(prefix: str, year: int, seq: int) -> str:
    """The number as the notice states it, e.g. 清风决〔2026〕7号."""
    return f"{prefix}〔{year}〕{seq}号"


def _next_seq(session: Session, year: int) -> int:
    """The year's next number: the counter row is bumped (and so locked) in the caller's
    transaction; the first notice of a year creates it, racing creators retry."""
    for _ in range(3):
        bumped = session.execute(
            update(DecisionNoticeCounter)
            .where(col(DecisionNoticeCounter.year) == year)
            .values(last=DecisionNoticeCounter.last + 1)
            .returning(col(DecisionNoticeCounter.last))
        ).scalar_one_or_none()
        if bumped is not None:
            return int(bumped)
        try:
            with session.begin_nested():
                session.add(DecisionNoticeCounter(year=year, last=0))
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a decision notice number")


def current_notice(session: Session, case_id: int) -> DecisionNotice | None:
    """The case's notice in force: the latest issued (a review's supersedes the decision's)."""
    return session.exec(
        select(DecisionNotice)
        .where(DecisionNotice.case_id == case_id)
        .order_by(col(DecisionNotice.id).desc())
    ).first()


def _kind(case: ConductCase, action: str, stage_changed: bool) -> NoticeKind | None:
    """Which notice, if any, the event ``action`` calls for: the decision standing (the case
    enters the appeal window), or a decision changed on appeal."""
    if stage_changed and case.stage == Stage.APPEAL_WINDOW:
        return NoticeKind.DECISION
    changed = case.appeal_outcome == AppealOutcome.CHANGE
    if action == Action.DECIDE_APPEAL and changed and case.decision:
        return NoticeKind.REVIEW
    return None


def issue_if_decided(
    session: Session,
    case: ConductCase,
    *,
    action: str,
    actor_id: int | None,
    stage_changed: bool,
    now: datetime,
    policy: Policy,
) -> DecisionNotice | None:
    """The notice the event calls for, numbered and audited; None when it calls for none."""
    kind = _kind(case, action, stage_changed)
    if kind is None or case.decision is None:
        return None
    year = local_date(now).year
    seq = _next_seq(session, year)
    review = kind is NoticeKind.REVIEW
    notice = DecisionNotice(
        case_id=pk(case),
        kind=kind,
        number=notice_number(policy.papers.notice_prefix, year, seq),
        year=year,
        seq=seq,
        disposition=case.decision,
        issued_at=now,
        effective_on=local_date(now),
        appeal_ends_on=None
        if review or case.appeal_window_ends_at is None
        else local_date(case.appeal_window_ends_at),
        signed_by=actor_id if review else case.advisor_signed_by,
        cosigned_by=None if review else case.cosigned_by,
        supersedes_id=_superseded(session, case) if review else None,
    )
    session.add(notice)
    session.flush()
    append_event(
        session,
        chain=case_chain(pk(case)),
        case_id=case.id,
        actor_id=actor_id,
        action=ISSUED_EVENT,
        at=now,
        data={"number": notice.number, "kind": kind.value, "disposition": case.decision},
    )
    return notice


def _superseded(session: Session, case: ConductCase) -> int | None:
    earlier = current_notice(session, pk(case))
    return earlier.id if earlier else None

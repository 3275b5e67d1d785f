"""What each action does to a case once its rule allows it; returns the audit event's data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlmodel import Session, select

from cases.context import CaseContext
from cases.deadlines.calendar import due_after, end_of, is_working_day
from cases.deadlines.steps import cancel_pending, write_ladder
from cases.evidence_files import add_item, store_file
from cases.people.assignment import check_assignable, deactivate, put_on_case
from cases.people.directory import person_by_handle
from cases.procedure import commands as c
from cases.procedure.clock import local_date
from cases.procedure.errors import InvalidInput
from cases.procedure.vocabulary import Action, AppealOutcome, Capacity, Stage, StatementState
from cases.store.models import (
    ConductCase,
    DeadlineExtension,
    Evidence,
    ExtensionState,
    Interview,
    Person,
    Unit,
    pk,
)

Effect = Callable[[Session, CaseContext, Any], dict[str, Any]]
STATEMENT_ATTACHMENT = "陈述申辩附件"  # the description of a file sent with a statement
SINGLE_HOLDER = frozenset({Capacity.VERIFIER, Capacity.ADVISOR, Capacity.APPEAL_REVIEWER})


def _known(ctx: CaseContext, kind: str, code: str, field: str) -> str:
    codes = {
        "category": ctx.policy.category_codes,
        "severity": ctx.policy.severity_codes,
        "disposition": frozenset(d.code for d in ctx.policy.dispositions),
    }[kind]
    if code not in codes:
        raise InvalidInput(
            f"unknown {kind} {code!r}; known: {', '.join(sorted(codes))}", field=field
        )
    return code


def _unit(session: Session, ctx: CaseContext) -> Unit:
    unit = session.get(Unit, ctx.case.unit_id)
    assert unit is not None
    return unit


def _assign(
    session: Session,
    ctx: CaseContext,
    handle: str,
    capacity: Capacity,
    override_reason: str | None,
    field: str,
) -> dict[str, Any]:
    person = person_by_handle(session, handle, field=field)
    used = check_assignable(
        session,
        ctx,
        person,
        capacity,
        unit=_unit(session, ctx),
        override_reason=override_reason,
        field=field,
    )
    if capacity in SINGLE_HOLDER:
        deactivate(ctx, session, capacity)
    put_on_case(session, ctx, person, capacity, override_reason=used)
    return {"person": person.handle, "capacity": capacity.value, "coi_override": used}


def accept(session: Session, ctx: CaseContext, cmd: c.Accept) -> dict[str, Any]:
    ctx.case.category = _known(ctx, "category", cmd.category, "category")
    ctx.case.severity = _known(ctx, "severity", cmd.severity, "severity")
    ctx.case.allegations = cmd.allegations
    put_on_case(session, ctx, ctx.actor, Capacity.TRIAGE)
    assigned = [
        _assign(session, ctx, handle, Capacity.INVESTIGATOR, cmd.override_reason, "investigators")
        for handle in dict.fromkeys(cmd.investigators)
    ]
    return {"category": cmd.category, "severity": cmd.severity, "assigned": assigned}


def decline(session: Session, ctx: CaseContext, cmd: c.Decline) -> dict[str, Any]:
    duplicate_of = cmd.duplicate_of
    if cmd.reason == "duplicate":
        duplicate_of = duplicate_of or ctx.case.possible_duplicate_of
        if not duplicate_of:
            raise InvalidInput(
                "name the case this one repeats: triage found no possible duplicate",
                field="duplicate_of",
            )
    if (
        duplicate_of
        and not session.exec(
            select(ConductCase.id).where(ConductCase.reference == duplicate_of)
        ).first()
    ):
        raise InvalidInput(f"no case {duplicate_of}", field="duplicate_of")
    put_on_case(session, ctx, ctx.actor, Capacity.TRIAGE)
    ctx.case.decline_reason = cmd.reason
    ctx.case.duplicate_of = duplicate_of
    return {"reason": cmd.reason, "explanation": cmd.explanation, "duplicate_of": duplicate_of}


def assign(session: Session, ctx: CaseContext, cmd: c.Assign) -> dict[str, Any]:
    return _assign(session, ctx, cmd.person, Capacity(cmd.capacity), cmd.override_reason, "person")


def record_evidence(session: Session, ctx: CaseContext, cmd: c.RecordEvidence) -> dict[str, Any]:
    item = Evidence(
        case_id=pk(ctx.case),
        description=cmd.description,
        filename=cmd.filename,
        sha256=cmd.sha256 or "",
        collected_on=cmd.collected_on.isoformat() if cmd.collected_on else None,
        recorded_by=pk(ctx.actor),
        recorded_at=ctx.now,
    )
    if cmd.attachment is not None:
        stored = store_file(
            session, ctx.case, ctx.policy.evidence, cmd.attachment, claimed_sha256=cmd.sha256
        )
        item.stored_name, item.media_type = stored.stored_name, stored.media_type
        item.size_bytes, item.sha256 = stored.size_bytes, stored.sha256
        item.original_sha256 = stored.original_sha256
    elif cmd.sha256 is None:
        raise InvalidInput("give the item's SHA-256, or upload the file", field="sha256")
    session.add(item)
    session.flush()
    return {
        "evidence": item.id,
        "sha256": item.sha256,
        "original_sha256": item.original_sha256,
        "filename": cmd.filename,
        "media_type": item.media_type,
        "size_bytes": item.size_bytes,
    }


def record_interview(session: Session, ctx: CaseContext, cmd: c.RecordInterview) -> dict[str, Any]:
    held_on = cmd.held_on.isoformat()
    session.add(
        Interview(
            case_id=pk(ctx.case),
            interviewee=cmd.interviewee,
            summary=cmd.summary,
            held_on=held_on,
            recorded_by=pk(ctx.actor),
            recorded_at=ctx.now,
        )
    )
    return {"held_on": held_on}


def record_statement(session: Session, ctx: CaseContext, cmd: c.RecordStatement) -> dict[str, Any]:
    """The statement, and each file sent with it as an item of evidence recorded by the one
    who gave it (the subject, from their page), described as the statement's attachment."""
    if len(cmd.attachments) > cmd.max_files:
        raise InvalidInput(f"at most {cmd.max_files} files with a statement", field="file")
    ctx.case.statement_state = StatementState.RECORDED
    ctx.case.statement_text = cmd.statement
    evidence = []
    for name, attachment in cmd.attachments:
        item = add_item(
            session, ctx.case, ctx.policy.evidence, attachment, filename=name,
            description=f"{STATEMENT_ATTACHMENT}：{name}" if name else STATEMENT_ATTACHMENT,
            recorded_by=pk(ctx.actor), now=ctx.now,
        )  # fmt: skip
        evidence.append(pk(item))
    return {"by_subject": ctx.actor.id == ctx.case.subject_id, "evidence": evidence}


def waive_statement(session: Session, ctx: CaseContext, cmd: c.WaiveStatement) -> dict[str, Any]:
    ctx.case.statement_state = StatementState.WAIVED
    return {"note": cmd.note}


def submit_findings(session: Session, ctx: CaseContext, cmd: c.SubmitFindings) -> dict[str, Any]:
    ctx.case.recommended_disposition = _known(
        ctx, "disposition", cmd.recommended_disposition, "recommended_disposition"
    )
    ctx.case.findings_result = cmd.result
    ctx.case.findings_summary = cmd.summary
    return {"result": cmd.result, "recommended_disposition": cmd.recommended_disposition}


def confirm(session: Session, ctx: CaseContext, cmd: c.Confirm) -> dict[str, Any]:
    return {"comment": cmd.comment}


def return_findings(session: Session, ctx: CaseContext, cmd: c.ReturnFindings) -> dict[str, Any]:
    ctx.case.returns_count += 1
    ctx.case.findings_result = None
    return {"reasons": cmd.reasons, "returns": ctx.case.returns_count}


def propose(session: Session, ctx: CaseContext, cmd: c.Propose) -> dict[str, Any]:
    ctx.case.proposed_disposition = _known(ctx, "disposition", cmd.disposition, "disposition")
    ctx.case.proposal_rationale = cmd.rationale
    ctx.case.advisor_signed_by = ctx.case.cosigned_by = None
    return {"disposition": cmd.disposition, "requires_cosign": ctx.requires_cosign()}


def sign_off(session: Session, ctx: CaseContext, cmd: c.SignOff) -> dict[str, Any]:
    put_on_case(session, ctx, ctx.actor, Capacity.ADVISOR)
    ctx.case.advisor_signed_by = ctx.actor.id
    return {"disposition": ctx.case.proposed_disposition, "comment": cmd.comment}


def refuse(session: Session, ctx: CaseContext, cmd: c.Refuse) -> dict[str, Any]:
    by_secretary = ctx.case.advisor_signed_by is not None
    capacity = Capacity.COSIGNER if by_secretary else Capacity.ADVISOR
    put_on_case(session, ctx, ctx.actor, capacity)
    refused = ctx.case.proposed_disposition
    ctx.case.proposed_disposition = ctx.case.advisor_signed_by = ctx.case.cosigned_by = None
    return {"refused": refused, "by": capacity.value, "comments": cmd.comments}


def co_sign(session: Session, ctx: CaseContext, cmd: c.CoSign) -> dict[str, Any]:
    put_on_case(session, ctx, ctx.actor, Capacity.COSIGNER)
    ctx.case.cosigned_by = ctx.actor.id
    return {"disposition": ctx.case.proposed_disposition, "comment": cmd.comment}


def appeal(session: Session, ctx: CaseContext, cmd: c.Appeal) -> dict[str, Any]:
    ctx.case.appeal_grounds = cmd.grounds
    return {}


def decide_appeal(session: Session, ctx: CaseContext, cmd: c.DecideAppeal) -> dict[str, Any]:
    put_on_case(session, ctx, ctx.actor, Capacity.APPEAL_REVIEWER)
    ctx.case.appeal_outcome = cmd.outcome
    if cmd.outcome is AppealOutcome.CHANGE:
        ctx.case.decision = _known(ctx, "disposition", cmd.disposition or "", "disposition")
    elif cmd.outcome is AppealOutcome.OVERTURN:
        ctx.case.decision = None
    return {"outcome": cmd.outcome, "decision": ctx.case.decision, "reasons": cmd.reasons}


def close(session: Session, ctx: CaseContext, cmd: c.Close) -> dict[str, Any]:
    return {"note": cmd.note}


def _later_working_day(ctx: CaseContext, day: date, field: str) -> date:
    assert ctx.case.due_at is not None  # every extendable stage has a due time
    if day <= local_date(ctx.case.due_at) or day < local_date(ctx.now):
        raise InvalidInput(
            f"{day} is not later than the current due day {local_date(ctx.case.due_at)}"
            if day <= local_date(ctx.case.due_at)
            else f"{day} is in the past",
            field=field,
        )
    if not is_working_day(day):
        raise InvalidInput(f"{day} is not a working day (Asia/Shanghai calendar)", field=field)
    return day


def _pending_extension(session: Session, ctx: CaseContext) -> DeadlineExtension:
    return session.exec(
        select(DeadlineExtension).where(
            DeadlineExtension.case_id == ctx.case.id,
            DeadlineExtension.state == ExtensionState.PENDING,
        )
    ).one()


def request_extension(
    session: Session, ctx: CaseContext, cmd: c.RequestExtension
) -> dict[str, Any]:
    case = ctx.case
    due_on = _later_working_day(ctx, cmd.due_on, "due_on")
    assert case.due_at is not None
    session.add(
        DeadlineExtension(
            case_id=pk(case),
            stage=case.stage,
            stage_entry=case.stage_entry,
            requested_by=pk(ctx.actor),
            requested_at=ctx.now,
            reason=cmd.reason,
            requested_due_on=due_on,
            previous_due_at=case.due_at,
        )
    )
    case.extension_requested_by, case.extension_requested_due_on = ctx.actor.id, due_on
    return {"reason": cmd.reason, "due_on": due_on.isoformat()}


def grant_extension(session: Session, ctx: CaseContext, cmd: c.GrantExtension) -> dict[str, Any]:
    case = ctx.case
    requested = case.extension_requested_due_on
    assert requested is not None  # the extension_pending guard held
    due_on = _later_working_day(ctx, cmd.due_on or requested, "due_on")
    request = _pending_extension(session, ctx)
    request.state = ExtensionState.GRANTED
    request.decided_by, request.decided_at = ctx.actor.id, ctx.now
    request.granted_due_on, request.decision_note = due_on, cmd.note
    session.add(request)
    previous = case.due_at
    cancel_pending(session, case)
    case.extensions_granted += 1
    case.extension_requested_by = case.extension_requested_due_on = None
    write_ladder(session, case, ctx.policy, end_of(due_on, ctx.policy.end_of_day))
    return {
        "requested_by": _handle(session, request.requested_by),
        "due_on": due_on.isoformat(),
        "requested_due_on": requested.isoformat(),
        "previous_due_at": previous.isoformat() if previous else None,
        "note": cmd.note,
    }


def refuse_extension(session: Session, ctx: CaseContext, cmd: c.RefuseExtension) -> dict[str, Any]:
    request = _pending_extension(session, ctx)
    request.state = ExtensionState.REFUSED
    request.decided_by, request.decided_at = ctx.actor.id, ctx.now
    request.decision_note = cmd.reason
    session.add(request)
    ctx.case.extension_requested_by = ctx.case.extension_requested_due_on = None
    return {
        "requested_by": _handle(session, request.requested_by),
        "reason": cmd.reason,
        "requested_due_on": request.requested_due_on.isoformat(),
    }


def _handle(session: Session, person_id: int) -> str:
    person = session.get(Person, person_id)
    assert person is not None
    return person.handle


EFFECTS: dict[Action, Effect] = {
    Action.ACCEPT: accept,
    Action.DECLINE: decline,
    Action.ASSIGN: assign,
    Action.RECORD_EVIDENCE: record_evidence,
    Action.RECORD_INTERVIEW: record_interview,
    Action.RECORD_STATEMENT: record_statement,
    Action.WAIVE_STATEMENT: waive_statement,
    Action.SUBMIT_FINDINGS: submit_findings,
    Action.CONFIRM: confirm,
    Action.RETURN_FINDINGS: return_findings,
    Action.PROPOSE: propose,
    Action.SIGN_OFF: sign_off,
    Action.REFUSE: refuse,
    Action.CO_SIGN: co_sign,
    Action.APPEAL: appeal,
    Action.DECIDE_APPEAL: decide_appeal,
    Action.CLOSE: close,
    Action.REQUEST_EXTENSION: request_extension,
    Action.GRANT_EXTENSION: grant_extension,
    Action.REFUSE_EXTENSION: refuse_extension,
}


def on_enter(ctx: CaseContext, stage: Stage) -> None:
    """Stage-entry bookkeeping that belongs to the stage, not to the action that led there."""
    case = ctx.case
    if stage is Stage.INVESTIGATION and case.statement_due_at is None:
        period = ctx.policy.deadlines.statement_period.for_severity(case.severity)
        case.statement_due_at = due_after(ctx.now, period, ctx.policy.end_of_day)
    elif stage is Stage.APPEAL_WINDOW:
        case.decision, case.decided_at = case.proposed_disposition, ctx.now
    elif stage is Stage.CLOSED:
        case.closed_at = ctx.now

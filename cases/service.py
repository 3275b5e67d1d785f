"""The service layer: file a report, apply a staff action, read a case. One transaction each."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain, record_refusal
from cases.context import CaseContext
from cases.deadlines.steps import open_stage
from cases.effects import EFFECTS
from cases.evidence_files import add_item
from cases.notices import prepare_deliveries
from cases.people.access import VisibleCase, case_for
from cases.people.directory import unit_by_code
from cases.people.secrets import hash_receipt, receipt_lookup
from cases.procedure.clock import utcnow
from cases.procedure.commands import Attachment, Command, FileReport
from cases.procedure.errors import IllegalAction, InvalidInput, Refusal, VersionConflict
from cases.procedure.machine import Rule, rule_for
from cases.procedure.policy import Policy
from cases.procedure.rules import check_rule, next_stage, permitted_actions
from cases.procedure.vocabulary import Capacity, Role, Stage
from cases.reporter_side import MAX_REPORT_FILES, REPORTER_ADDED
from cases.store.db import UnitOfWork
from cases.store.models import CaseParty, ConductCase, Person, ReferenceCounter, Unit, pk
from cases.subject_view import SubjectCaseView, subject_view_of
from cases.transitions import enter_stage, record_event
from cases.triage import TRIAGE_EVENT, triage
from cases.views import READ_EVENT, CaseDetail, CaseState, detail_of, state_of
from config.telemetry import ACTIONS

R = TypeVar("R")
# Writes what answers a repeat of the request (the API's idempotency record) in the
# service's own transaction, just before its commit: both are kept, or neither.
Remember = Callable[[Session, R], None]


@dataclass(frozen=True)
class FiledReport:
    reference: str
    version: int
    stage: str
    filed_at: datetime


def _next_reference(session: Session, year: int) -> str:
    for _ in range(3):
        bumped = session.execute(
            update(ReferenceCounter)
            .where(col(ReferenceCounter.year) == year)
            .values(last=ReferenceCounter.last + 1)
            .returning(col(ReferenceCounter.last))
        ).scalar_one_or_none()
        if bumped is not None:
            return f"QF-{year}-{bumped:05d}"
        try:
            with session.begin_nested():  # first report of the year: racing creators retry
                session.add(ReferenceCounter(year=year, last=0))
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a case reference")


def _subject(session: Session, report: FileReport, unit: Unit, now: datetime) -> Person:
    """The person reported: by handle; without one, the only person of that name in the
    unit; else a new directory entry, named as reported, that staff may complete."""
    if report.subject_handle:
        found = session.exec(select(Person).where(Person.handle == report.subject_handle))
    else:
        found = session.exec(
            select(Person).where(Person.name == report.subject_name, Person.unit_id == unit.id)
        )
    matches = found.all()
    if len(matches) == 1:
        return matches[0]
    handle = report.subject_handle or f"reported-{secrets.token_hex(6)}"
    person = Person(handle=handle, name=report.subject_name, unit_id=pk(unit), created_at=now)
    session.add(person)
    session.flush()
    return person


def file_report(
    *,
    uow: UnitOfWork,
    policy: Policy,
    report: FileReport,
    reporter: Person | None,
    receipt_code: str,
    sealed_receipt: str | None = None,
    secret: bytes | None = None,
    remember: Remember[FiledReport] | None = None,
    files: Sequence[tuple[str | None, Attachment]] = (),
    now: datetime | None = None,
) -> FiledReport:
    """Create a case in intake from a report (with its evidence ``files``: name as sent,
    content), triaged before anyone can accept it."""
    now = now or utcnow()
    with uow:
        session = uow.session
        unit = unit_by_code(session, report.unit)
        subject = _subject(session, report, unit, now)
        _check_report(report, reporter, subject, policy)
        case = _new_case(session, report, reporter, unit, subject, receipt_code, now)
        if secret is not None:  # the status request's index (without it: no status by code)
            case.receipt_lookup = receipt_lookup(secret, receipt_code)
        open_stage(session, case, policy, now)
        data: dict[str, object] = {"unit": unit.code, "anonymous": report.anonymous}
        if files:
            data["evidence"] = _report_files(session, case, policy, files, now)
        seq = record_event(
            session,
            case,
            action="filed",
            actor_id=None,
            now=now,
            stage_changed=True,
            data=data,
            policy=policy,
        )
        _triage(session, case, policy, now)
        if sealed_receipt:  # the receipt goes at once; the stage run tells everyone else
            _send_receipt(session, case, policy, seq, data, sealed_receipt, now)
        filed = FiledReport(case.reference, case.version, case.stage, case.filed_at)
        if remember:
            remember(session, filed)
        uow.commit()
        return filed


def _send_receipt(
    session: Session,
    case: ConductCase,
    policy: Policy,
    seq: int,
    data: dict[str, object],
    sealed_receipt: str,
    now: datetime,
) -> None:
    """The reporter's delivery of the filing, with the receipt code sealed in it."""
    prepare_deliveries(
        session, case, policy, stage=Stage.INTAKE, event="filed", event_seq=seq,
        event_data=data, now=now, only=("reporter",), sealed_receipt=sealed_receipt,
    )  # fmt: skip


def _report_files(
    session: Session,
    case: ConductCase,
    policy: Policy,
    files: Sequence[tuple[str | None, Attachment]],
    now: datetime,
) -> list[int]:
    """Store the files sent with a report, each an item the reporter added; their ids."""
    if len(files) > MAX_REPORT_FILES:
        raise InvalidInput(f"at most {MAX_REPORT_FILES} files with a report", field="evidence")
    return [
        pk(add_item(session, case, policy.evidence, attachment, description=REPORTER_ADDED,
                    filename=name, recorded_by=None, now=now))
        for name, attachment in files
    ]  # fmt: skip


def _check_report(
    report: FileReport, reporter: Person | None, subject: Person, policy: Policy
) -> None:
    if reporter is not None and reporter.id == subject.id:
        raise InvalidInput("a report cannot name its own reporter", field="subject_handle")
    if report.category and report.category not in policy.category_codes:
        known = ", ".join(sorted(policy.category_codes))
        raise InvalidInput(
            f"unknown category {report.category!r}; known: {known}", field="category"
        )


def _new_case(
    session: Session,
    report: FileReport,
    reporter: Person | None,
    unit: Unit,
    subject: Person,
    receipt_code: str,
    now: datetime,
) -> ConductCase:
    """The case row in intake and its parties; only the receipt code's hash is kept."""
    named = reporter is None and not report.anonymous
    case = ConductCase(
        reference=_next_reference(session, now.year),
        stage=Stage.INTAKE,
        stage_entered_at=now,
        unit_id=pk(unit),
        subject_id=pk(subject),
        reporter_id=reporter.id if reporter else None,
        anonymous=report.anonymous,
        reporter_name=report.reporter_name if named else None,
        reporter_contact=report.reporter_contact,
        receipt_hash=hash_receipt(receipt_code),
        summary=report.summary,
        details=report.details,
        reported_category=report.category,
        subject_post=report.subject_post,
        occurred=report.occurred,
        place=report.place,
        filed_at=now,
    )
    session.add(case)
    session.flush()
    parties = [(subject, Capacity.SUBJECT)] + ([(reporter, Capacity.REPORTER)] if reporter else [])
    for person, capacity in parties:
        session.add(CaseParty(case_id=pk(case), person_id=pk(person), capacity=capacity, since=now))
    return case


def _triage(session: Session, case: ConductCase, policy: Policy, now: datetime) -> None:
    """Possible duplicate and missing information, on the case file before anyone accepts."""
    result = triage(session, case, policy)
    case.possible_duplicate_of = result.possible_duplicate_of
    case.missing_information = ",".join(result.missing)
    append_event(
        session,
        chain=case_chain(pk(case)),
        case_id=case.id,
        action=TRIAGE_EVENT,
        at=now,
        data={
            "possible_duplicate_of": result.possible_duplicate_of,
            "missing": list(result.missing),
        },
    )


def _parties(session: Session, case: ConductCase) -> list[CaseParty]:
    return list(session.exec(_PARTIES, params={"case_id": case.id}))


_PARTIES = select(CaseParty).where(col(CaseParty.case_id) == bindparam("case_id"))


def _context(
    session: Session,
    seen: VisibleCase,
    actor: Person,
    policy: Policy,
    now: datetime,
    command: Command | None = None,
) -> CaseContext:
    return CaseContext(
        case=seen.case,
        actor=actor,
        roles=seen.roles,
        parties=_parties(session, seen.case),
        policy=policy,
        now=now,
        command=command,
    )


def apply_action(
    *,
    uow: UnitOfWork,
    policy: Policy,
    reference: str,
    actor: Person,
    command: Command,
    expected_version: int | None = None,
    remember: Remember[CaseState] | None = None,
    now: datetime | None = None,
) -> CaseState:
    """Carry out one staff action on a case in one transaction, or raise a domain error."""
    now = now or utcnow()
    with uow:
        session = uow.session
        seen = case_for(session, actor, reference, for_update=True)
        case = seen.case
        _bump_version(case, case.version if expected_version is None else expected_version)
        stage = Stage(case.stage)
        ctx = _context(session, seen, actor, policy, now, command)
        rule, data = _carry_out(uow, ctx, stage, command)
        target = next_stage(rule, ctx)
        changed = target is not None and target is not stage
        if changed:
            assert target is not None
            enter_stage(session, ctx, target)
        record_event(
            session,
            case,
            action=command.action,
            actor_id=actor.id,
            data=data,
            now=now,
            stage_changed=changed,
            policy=policy,
        )
        state = state_of(case, seen.unit.code, allowed=permitted_actions(ctx))
        if remember:
            remember(session, state)
        uow.after_commit(ACTIONS.labels(action=command.action).inc)
        uow.commit()
        return state


def _carry_out(
    uow: UnitOfWork, ctx: CaseContext, stage: Stage, command: Command
) -> tuple[Rule, dict[str, object]]:
    """The action's rule and its effect's audit data; a refusal is recorded once the
    action's transaction has rolled back."""
    try:
        rule = rule_for(stage, command.action)
        if rule is None:
            raise IllegalAction(stage=stage, action=command.action)
        check_rule(ctx, rule, command.action)
        return rule, EFFECTS[command.action](uow.session, ctx, command)
    except Refusal as refusal:
        refusal.extra["allowed_actions"] = permitted_actions(ctx)  # this viewer's, now
        record = partial(
            record_refusal, uow.db, case_id=pk(ctx.case), actor_id=ctx.actor.id,
            action=command.action, refusal=refusal, now=ctx.now,
        )  # fmt: skip
        uow.after_rollback(record)
        raise


def _bump_version(case: ConductCase, expected: int) -> None:
    # The case row is locked (case_for(for_update=True); SQLite: BEGIN IMMEDIATE), so the
    # version read is current and of two concurrent identical actions exactly one gets
    # past this line. The ORM writes the new version with the action's other changes.
    if case.version != expected:
        raise VersionConflict(
            f"the case is at version {case.version}, not {expected}", current_version=case.version
        )
    case.version = expected + 1


def read_case(
    *, uow: UnitOfWork, policy: Policy, reference: str, viewer: Person, now: datetime | None = None
) -> CaseDetail | SubjectCaseView:
    """The case file as ``viewer`` may see it (its subject: what policy shows them); audited."""
    now = now or utcnow()
    with uow:
        session = uow.session
        seen = case_for(session, viewer, reference)
        case = seen.case
        ctx = _context(session, seen, viewer, policy, now)
        append_event(
            session,
            chain=case_chain(pk(case)),
            case_id=case.id,
            actor_id=viewer.id,
            action=READ_EVENT,
            at=now,
        )
        allowed = permitted_actions(ctx)
        detail: CaseDetail | SubjectCaseView
        if viewer.id == case.subject_id:
            detail = subject_view_of(session, case, seen.unit, policy=policy, allowed=allowed)
        else:
            oversight = ctx.has_role(Role.SECRETARY) or ctx.has_role(Role.ADMIN)
            detail = detail_of(
                session, case, seen.unit, viewer=viewer, allowed=allowed, oversight=oversight
            )
        uow.commit()
        return detail

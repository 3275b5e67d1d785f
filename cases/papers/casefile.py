"""Exporting a closed case's file (案卷): the PDF, the evidence files, the case's audit-chain
segment and a signed manifest, as one zip; for the roles policy allows, and audited."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from datetime import datetime
from functools import partial
from pathlib import Path

from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain, record_refusal
from cases.evidence_files import evidence_store
from cases.papers.casefile_pdf import (
    CASEFILE_EVENT,
    CaseRecord,
    EvidenceEntry,
    PartyEntry,
    casefile_pdf,
)
from cases.papers.casefile_zip import (
    AUDIT_MEMBER,
    EVIDENCE_DIR,
    PDF_MEMBER,
    Header,
    audit_segment,
    build_archive,
    fingerprint,
    signing_key,
)
from cases.people.access import VisibleCase, case_for
from cases.procedure.clock import utcnow
from cases.procedure.errors import Forbidden, GuardFailed, NotNow, Refusal
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Capacity, Stage
from cases.store.db import UnitOfWork
from cases.store.models import (
    AuditEvent,
    CaseParty,
    ConductCase,
    Evidence,
    Interview,
    Person,
    pk,
)

EXPORT_ACTION = "export_casefile"  # what a refusal's audit event names
REPORTER = "举报人"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:]+")


def export_casefile(
    *,
    uow: UnitOfWork,
    policy: Policy,
    actor: Person,
    reference: str,
    data_dir: Path,
    committee: str,
    now: datetime | None = None,
) -> bytes:
    """A closed case's file as a signed zip, for policy's casefile_roles; audited."""
    now = now or utcnow()
    key = signing_key(data_dir)
    key_print = fingerprint(key.public_key())
    with uow:  # what the file holds, read in one snapshot
        seen = case_for(uow.session, actor, reference)
        _check_export(uow, seen, actor, policy, now)
        evidence, files = _evidence(uow, uow.session, seen.case, data_dir, actor, now)
        events = _chain(uow.session, seen.case)
        record = _record(uow.session, seen, events, evidence, actor, now, committee, key_print)
    # Set outside any transaction: laying out and subsetting the CJK faces takes seconds.
    pdf = casefile_pdf(record, policy)
    with uow:  # the export's event and the archive that ends with it, or neither
        session = uow.session
        seen = case_for(session, actor, reference)
        _check_export(uow, seen, actor, policy, now)
        append_event(
            session,
            chain=case_chain(pk(seen.case)),
            case_id=seen.case.id,
            actor_id=actor.id,
            action=CASEFILE_EVENT,
            at=now,
            data={"key": key_print, "pdf_sha256": hashlib.sha256(pdf).hexdigest()},
        )
        events = _chain(session, seen.case)  # the PDF's, then the export (and any since)
        members = [(PDF_MEMBER, pdf), *files, (AUDIT_MEMBER, audit_segment(events))]
        head = events[-1]
        header = Header(reference, head.chain, head.seq, head.hash, now, actor.handle)
        archive = build_archive(members, header, key)
        uow.commit()
        return archive


def _chain(session: Session, case: ConductCase) -> list[AuditEvent]:
    """The case's audit chain, in order."""
    return list(
        session.exec(
            select(AuditEvent)
            .where(AuditEvent.chain == case_chain(pk(case)))
            .order_by(col(AuditEvent.seq))
        )
    )


def _check_export(
    uow: UnitOfWork, seen: VisibleCase, actor: Person, policy: Policy, now: datetime
) -> None:
    """Forbidden unless the actor holds a casefile role over the case; NotNow unless closed."""
    allowed = {role.value for role in policy.papers.casefile_roles}
    if not seen.roles & allowed:
        raise _refused(
            uow, seen.case, actor, now,
            Forbidden(f"only {', '.join(sorted(allowed))} may export a case file"),
        )  # fmt: skip
    if seen.case.stage != Stage.CLOSED:
        raise _refused(
            uow, seen.case, actor, now,
            NotNow(f"{seen.case.reference} is not closed (stage {seen.case.stage}): only a "
                   f"closed case's file is exported", field="reference"),
        )  # fmt: skip


def _refused(
    uow: UnitOfWork, case: ConductCase, actor: Person, now: datetime, refusal: Refusal
) -> Refusal:
    """``refusal``, recorded on the case's chain once the transaction has rolled back."""
    record = partial(
        record_refusal, uow.db, case_id=pk(case), actor_id=actor.id, action=EXPORT_ACTION,
        refusal=refusal, now=now,
    )  # fmt: skip
    uow.after_rollback(record)
    return refusal


def _member_name(n: int, item: Evidence, hide_name: bool) -> str:
    """evidence/<n>-<name>: the name as sent, made safe; none for an anonymous reporter's."""
    extension = mimetypes.guess_extension(item.media_type or "") or ""
    name = item.filename if item.filename and not hide_name else f"evidence-{item.id}{extension}"
    safe = _UNSAFE.sub("_", name).lstrip(".")[:100] or f"evidence-{item.id}"
    return f"{EVIDENCE_DIR}{n}-{safe}"


def _evidence(
    uow: UnitOfWork,
    session: Session,
    case: ConductCase,
    data_dir: Path,
    actor: Person,
    now: datetime,
) -> tuple[list[tuple[int, Evidence, str | None]], list[tuple[str, bytes]]]:
    """The items in order, each with its member name, and the stored files' contents;
    a file missing or changed since it was recorded refuses the export."""
    items = session.exec(
        select(Evidence).where(Evidence.case_id == case.id).order_by(col(Evidence.id))
    ).all()
    directory = evidence_store(data_dir) / str(pk(case))
    listed: list[tuple[int, Evidence, str | None]] = []
    files: list[tuple[str, bytes]] = []
    for n, item in enumerate(items, start=1):
        if item.stored_name is None:
            listed.append((n, item, None))
            continue
        path = directory / item.stored_name
        content = path.read_bytes() if path.is_file() else None
        if content is None or hashlib.sha256(content).hexdigest() != item.sha256:
            problem = "is missing" if content is None else "no longer matches its SHA-256"
            raise _refused(
                uow, case, actor, now,
                GuardFailed(f"evidence {item.id}'s stored file {problem}",
                            guard="evidence_intact", field="evidence"),
            )  # fmt: skip
        name = _member_name(n, item, case.anonymous and item.recorded_by is None)
        listed.append((n, item, name))
        files.append((name, content))
    return listed, files


def _record(
    session: Session,
    seen: VisibleCase,
    events: list[AuditEvent],
    evidence: list[tuple[int, Evidence, str | None]],
    actor: Person,
    now: datetime,
    committee: str,
    key_print: str,
) -> CaseRecord:
    """What the PDF prints; the reporter of an anonymous report is in none of it."""
    case = seen.case
    parties = session.exec(
        select(CaseParty, Person)
        .join(Person, col(Person.id) == CaseParty.person_id)
        .where(CaseParty.case_id == case.id)
        .order_by(col(CaseParty.id))
    ).all()
    actors = _actors(session, case, events, evidence)
    reporter = session.get(Person, case.reporter_id) if case.reporter_id else None
    return CaseRecord(
        case=case,
        unit=seen.unit,
        subject=actors[case.subject_id],
        reporter=None if case.anonymous else (reporter.name if reporter else case.reporter_name),
        reporter_contact=None if case.anonymous else case.reporter_contact,
        parties=[
            PartyEntry(cp.capacity, actors[p.id], cp.active, cp.override_reason)
            for cp, p in parties
            if not (case.anonymous and cp.capacity == Capacity.REPORTER)
        ],
        evidence=_entries(evidence, actors),
        interviews=list(session.exec(select(Interview).where(Interview.case_id == case.id))),
        events=events,
        actors=actors,
        exported_by=actors.get(actor.id) or f"{actor.name}（{actor.handle}）",
        exported_at=now,
        committee=committee,
        key_fingerprint=key_print,
    )


def _entries(
    evidence: list[tuple[int, Evidence, str | None]], actors: dict[int | None, str]
) -> list[EvidenceEntry]:
    """The evidence list's rows; an item without a recorder is the reporter's."""
    return [
        EvidenceEntry(
            n,
            pk(item),
            item.description,
            name,
            item.sha256,
            item.media_type,
            item.size_bytes,
            item.collected_on,
            actors.get(item.recorded_by, REPORTER),
            item.recorded_at,
        )
        for n, item, name in evidence
    ]


def _actors(
    session: Session,
    case: ConductCase,
    events: list[AuditEvent],
    evidence: list[tuple[int, Evidence, str | None]],
) -> dict[int | None, str]:
    """Everyone the file names, as 'name（handle）'; an anonymous reporter as 举报人 only."""
    ids: set[int | None] = {case.subject_id, case.advisor_signed_by, case.cosigned_by}
    ids |= {e.actor_id for e in events} | {item.recorded_by for _, item, _ in evidence}
    parties = select(CaseParty.person_id).where(CaseParty.case_id == case.id)
    ids |= set(session.exec(parties).all())
    found = session.exec(select(Person).where(col(Person.id).in_(ids - {None}))).all()
    actors: dict[int | None, str] = {p.id: f"{p.name}（{p.handle}）" for p in found}
    if case.anonymous and case.reporter_id is not None:
        actors[case.reporter_id] = REPORTER
    actors.pop(None, None)
    return actors

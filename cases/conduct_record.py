"""A person's conduct record, looked up before appointing them to student-union work (严格选拔).

The record is the decided cases with the person as their subject: closed, the findings
substantiated or partly substantiated, and the decision standing (not overturned on
appeal; changed on appeal: the changed disposition). Open cases, unsubstantiated or
declined ones, and overturned decisions count against nobody and are not listed. A case
is listed when its decision took effect within the last ``policy.conduct_record.period_years``
(or its disposition is still in force), with its disposition's period: in force until
took effect + ``period_months``, lifted from that day on, or no period.

Only the roles ``policy.conduct_record.roles`` may look up, over the units they hold that
role in (and all below). Each lookup is one event on the system audit chain with the
stated purpose and the person's id (never their name): not on any case's chain, so the
teams of the person's cases never see it.
"""

from __future__ import annotations

import hashlib
from calendar import monthrange
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import or_
from sqlmodel import Session, col, select

from cases.audit import SYSTEM_CHAIN, append_event
from cases.procedure.clock import local_date, utcnow
from cases.procedure.errors import Forbidden, InvalidInput
from cases.procedure.policy import Label, Policy
from cases.procedure.vocabulary import AppealOutcome, FindingsResult, Stage
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person, RoleGrant, Unit

LOOKED_UP_EVENT = "person.conduct_record_looked_up"
REFUSED_EVENT = "person.conduct_record_refused"  # asked by someone policy does not allow
PURPOSE_MAX = 200
IDENTIFIER_MAX = 64  # a handle's length (Person.handle)
COUNTS = (FindingsResult.SUBSTANTIATED, FindingsResult.PARTLY_SUBSTANTIATED)


class ConductRecordQuery(BaseModel):
    """Whose record, and why: the purpose is kept with the lookup on the audit trail."""

    model_config = ConfigDict(extra="forbid")
    person: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=IDENTIFIER_MAX)
    ] = Field(description="The person's student number (or a staff member's handle).")
    purpose: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PURPOSE_MAX)
    ] = Field(description="Why the record is looked up (e.g. the post to be filled); audited.")


class RecordStatus(StrEnum):
    """Where a listed disposition stands on the day of the lookup."""

    IN_FORCE = "in_force"  # its period has not ended
    LIFTED = "lifted"  # its period ended (处分期满解除)
    NO_PERIOD = "no_period"  # the disposition has no period


STATUS_WORDS: dict[RecordStatus, Label] = {
    RecordStatus.IN_FORCE: Label.model_validate({"zh-CN": "期限内", "en": "in force"}),
    RecordStatus.LIFTED: Label.model_validate({"zh-CN": "已期满解除", "en": "lifted"}),
    RecordStatus.NO_PERIOD: Label.model_validate({"zh-CN": "无期限", "en": "no period"}),
}


class RecordedPerson(BaseModel):
    """The person as identified: found in the directory by the identifier, or not."""

    identifier: str = Field(description="The student number or handle as given.")
    found: bool = Field(description="Whether the directory has anyone by that identifier.")
    name: str | None
    unit: str | None = Field(description="Their unit's code, if the directory has one.")
    unit_name: Label | None


class RecordEntry(BaseModel):
    """One decided case that counts: what was decided, when it took effect, where it stands."""

    reference: str
    unit: str = Field(description="The case's unit (code).")
    unit_name: Label
    category: Label | None = Field(description="The category, in words (zh-CN, en).")
    disposition: str = Field(description="The disposition's code (as changed on appeal).")
    disposition_words: Label
    partly: bool = Field(description="The findings were partly substantiated.")
    took_effect_on: date = Field(description="The day the decision took effect (Asia/Shanghai).")
    period_ends_on: date | None = Field(
        description="The day its period ends and it is lifted (none: no period)."
    )
    status: RecordStatus
    status_words: Label


class ConductRecord(BaseModel):
    """A person's conduct record as of today, over the period searched."""

    person: RecordedPerson
    period_from: date = Field(description="The first day searched (Asia/Shanghai).")
    period_to: date = Field(description="The last day searched: the day of the lookup.")
    cases: list[RecordEntry] = Field(description="Newest first; empty: nothing on record.")


def look_up_conduct_record(
    *,
    uow: UnitOfWork,
    policy: Policy,
    actor: Person,
    person: str,
    purpose: str,
    now: datetime | None = None,
) -> ConductRecord:
    """The conduct record of ``person`` (student number or handle) for ``purpose``; audited,
    and so is a refusal."""
    query = _query(person, purpose)
    now = now or utcnow()
    today = local_date(now)
    with uow:
        session = uow.session
        found = session.exec(select(Person).where(col(Person.handle) == query.person)).first()
        try:
            paths = _scope(session, actor, policy)
        except Forbidden:
            _audit_refusal(session, actor, query, found, now)
            uow.commit()
            raise
        period_from = _years_before(today, policy.conduct_record.period_years)
        entries = _entries(session, policy, found, paths, period_from, today) if found else []
        record = ConductRecord(
            person=_recorded(session, query.person, found),
            period_from=period_from,
            period_to=today,
            cases=entries,
        )
        _audit(session, actor, query, found, record, now)
        uow.commit()
        return record


def may_look_up(*, uow: UnitOfWork, policy: Policy, viewer: Person) -> bool:
    """Whether ``viewer`` holds a role the policy lets look up a conduct record."""
    with uow:
        try:
            _scope(uow.session, viewer, policy)
        except Forbidden:
            return False
        return True


def _query(person: str, purpose: str) -> ConductRecordQuery:
    """The lookup's input, or InvalidInput naming the first field that is wrong."""
    try:
        return ConductRecordQuery(person=person, purpose=purpose)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "purpose"
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None


def _scope(session: Session, actor: Person, policy: Policy) -> list[str]:
    """The unit paths the actor holds a lookup role over, or Forbidden."""
    allowed = [role.value for role in policy.conduct_record.roles]
    paths = session.exec(
        select(Unit.path)
        .join(RoleGrant, col(RoleGrant.unit_id) == Unit.id)
        .where(col(RoleGrant.person_id) == actor.id, col(RoleGrant.role).in_(allowed))
    ).all()
    if not paths:
        raise Forbidden(f"only {', '.join(allowed)} may look up a conduct record")
    return sorted(set(paths))


def _entries(
    session: Session,
    policy: Policy,
    person: Person,
    paths: list[str],
    period_from: date,
    today: date,
) -> list[RecordEntry]:
    """The person's decided cases that count, in the actor's scope, newest first."""
    rows = session.exec(
        select(ConductCase, Unit)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(
            col(ConductCase.subject_id) == person.id,
            col(ConductCase.stage) == Stage.CLOSED,
            col(ConductCase.findings_result).in_([r.value for r in COUNTS]),
            col(ConductCase.decision).is_not(None),
            or_(
                col(ConductCase.appeal_outcome).is_(None),
                col(ConductCase.appeal_outcome) != AppealOutcome.OVERTURN,
            ),
            or_(*(col(Unit.path).startswith(path) for path in paths)),
        )
    ).all()
    entries = [_entry(policy, case, unit, today) for case, unit in rows]
    listed = [
        e for e in entries if e.took_effect_on >= period_from or e.status is RecordStatus.IN_FORCE
    ]
    return sorted(listed, key=lambda e: (e.took_effect_on, e.reference), reverse=True)


def _entry(policy: Policy, case: ConductCase, unit: Unit, today: date) -> RecordEntry:
    code = case.decision or ""
    disposition = policy.disposition(code)
    category = next((c for c in policy.categories if c.code == case.category), None)
    took_effect = local_date(took_effect_at(case))
    months = disposition.period_months if disposition else None
    ends = _months_after(took_effect, months) if months else None
    status = (
        RecordStatus.NO_PERIOD
        if ends is None
        else RecordStatus.LIFTED
        if today >= ends
        else RecordStatus.IN_FORCE
    )
    return RecordEntry(
        reference=case.reference,
        unit=unit.code,
        unit_name=_unit_words(unit),
        category=category.label if category else None,
        disposition=code,
        disposition_words=disposition.label if disposition else _same(code),
        partly=case.findings_result == FindingsResult.PARTLY_SUBSTANTIATED,
        took_effect_on=took_effect,
        period_ends_on=ends,
        status=status,
        status_words=STATUS_WORDS[status],
    )


def took_effect_at(case: ConductCase) -> datetime:
    """When a closed case's decision took effect: the end of the appeal window when no
    appeal was lodged, else the appeal's decision (the case's closure)."""
    assert case.closed_at is not None  # only closed cases get here
    if case.appeal_outcome is None and case.appeal_window_ends_at is not None:
        return min(case.appeal_window_ends_at, case.closed_at)
    return case.closed_at


def _recorded(session: Session, identifier: str, person: Person | None) -> RecordedPerson:
    unit = session.get(Unit, person.unit_id) if person and person.unit_id else None
    return RecordedPerson(
        identifier=identifier,
        found=person is not None,
        name=person.name if person else None,
        unit=unit.code if unit else None,
        unit_name=_unit_words(unit) if unit else None,
    )


def _audit(
    session: Session,
    actor: Person,
    query: ConductRecordQuery,
    person: Person | None,
    record: ConductRecord,
    now: datetime,
) -> None:
    """The lookup on the system chain: who, whom (their id; a digest of an identifier
    nobody holds), why, and how many cases it showed. Never the person's name."""
    append_event(
        session,
        chain=SYSTEM_CHAIN,
        action=LOOKED_UP_EVENT,
        at=now,
        actor_id=actor.id,
        data={
            **_whom(query, person),
            "purpose": query.purpose,
            "period_from": record.period_from.isoformat(),
            "cases": [entry.reference for entry in record.cases],
        },
    )


def _audit_refusal(
    session: Session, actor: Person, query: ConductRecordQuery, person: Person | None, now: datetime
) -> None:
    """A lookup refused, on the system chain: who asked, for whom and why."""
    data = {**_whom(query, person), "purpose": query.purpose}
    append_event(
        session, chain=SYSTEM_CHAIN, action=REFUSED_EVENT, at=now, actor_id=actor.id, data=data
    )


def _whom(query: ConductRecordQuery, person: Person | None) -> dict[str, object]:
    if person is not None:
        return {"person_id": person.id}
    return {"identifier_sha256": hashlib.sha256(query.person.encode("utf-8")).hexdigest()}


def _unit_words(unit: Unit) -> Label:
    return Label.model_validate({"zh-CN": unit.name_zh, "en": unit.name_en})


def _same(code: str) -> Label:
    return Label.model_validate({"zh-CN": code or "—", "en": code or "—"})


def _years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier (29 February: the 28th)."""
    year = day.year - years
    return day.replace(year=year, day=min(day.day, monthrange(year, day.month)[1]))


def _months_after(day: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))

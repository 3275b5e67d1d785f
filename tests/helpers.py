"""Drive cases through the service layer in tests."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from itertools import count

from api.http.deps import AppState
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.vocabulary import Stage
from cases.service import apply_action, file_report, read_case
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person
from cases.views import CaseDetail, CaseState

_numbers = count(1)
SHA = hashlib.sha256(b"evidence").hexdigest()


def file(
    state: AppState,
    *,
    unit: str = "cs-su",
    subject: str | None = None,
    reporter: Person | None = None,
    anonymous: bool = True,
    now: datetime | None = None,
) -> str:
    """File a report and return its reference."""
    report = c.FileReport(
        unit=unit,
        subject_handle=subject or f"stu.{next(_numbers):05d}",
        subject_name="张同学",
        summary="反映问题",
        details="详细情况",
        anonymous=anonymous,
    )
    return file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=report,
        reporter=reporter,
        receipt_code="ABCD-EFGH-JKMN-PQRS",
        now=now,
    ).reference


def act(
    state: AppState,
    people: dict[str, Person],
    reference: str,
    handle: str,
    command: c.Command,
    *,
    now: datetime | None = None,
    expected_version: int | None = None,
) -> CaseState:
    return apply_action(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        reference=reference,
        actor=people[handle],
        command=command,
        now=now,
        expected_version=expected_version,
    )


# The happy path; each step: (actor, command, stage after it).
PATH: list[tuple[str, c.Command, Stage]] = [
    (
        "inv.wang",
        c.Accept(category="formalism", severity="serious", investigators=["inv.wang"]),
        Stage.INVESTIGATION,
    ),
    ("inv.wang", c.RecordEvidence(description="照片", sha256=SHA), Stage.INVESTIGATION),
    (
        "inv.wang",
        c.RecordInterview(interviewee="证人甲", summary="说明", held_on="2026-11-20"),
        Stage.INVESTIGATION,
    ),
    ("inv.wang", c.RecordStatement(statement="陈述"), Stage.INVESTIGATION),
    (
        "inv.wang",
        c.SubmitFindings(result="substantiated", summary="属实", recommended_disposition="warning"),
        Stage.VERIFICATION,
    ),
    ("sec.li", c.Assign(capacity="verifier", person="ver.liu"), Stage.VERIFICATION),
    ("ver.liu", c.Confirm(), Stage.DISPOSITION),
    ("inv.wang", c.Propose(disposition="warning", rationale="较重"), Stage.DISPOSITION),
    ("adv.cs-su", c.SignOff(), Stage.DISPOSITION),
    ("sec.li", c.CoSign(), Stage.APPEAL_WINDOW),
]


def carry_to(
    state: AppState,
    people: dict[str, Person],
    reference: str,
    stage: Stage,
    *,
    now: datetime | None = None,
) -> None:
    """Carry a case from where it stands to ``stage``: along PATH to its first arrival
    there, then an appeal (appeal review) or the end of the appeal window (closed)."""
    if stage is Stage.INTAKE:
        return
    at = _stage_of(state, reference)
    ahead = PATH if at is Stage.INTAKE else PATH[[r for _, _, r in PATH].index(at) + 1 :]
    for handle, command, reached in ahead:
        act(state, people, reference, handle, command, now=now)
        if reached is stage:
            return
    if stage is Stage.APPEAL_REVIEW:
        subject = _subject_handle(state, reference)
        act(
            state,
            people_with(state, people, subject),
            reference,
            subject,
            c.Appeal(grounds="不服"),
            now=now,
        )
    elif stage is Stage.CLOSED:
        later = (now or utcnow()) + timedelta(days=40)
        act(state, people, reference, "sec.li", c.Close(), now=later)


def _stage_of(state: AppState, reference: str) -> Stage:
    from sqlmodel import select

    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == reference))
        return Stage(case.one().stage)


def _subject_handle(state: AppState, reference: str) -> str:
    from sqlmodel import select

    from cases.store.models import ConductCase

    with UnitOfWork(state.db, write=False) as uow:
        case = uow.session.exec(select(ConductCase).where(ConductCase.reference == reference)).one()
        person = uow.session.get(Person, case.subject_id)
        assert person is not None
        return person.handle


def people_with(state: AppState, people: dict[str, Person], handle: str) -> dict[str, Person]:
    """``people`` plus a person created since (a subject filed with a report)."""
    from sqlmodel import select

    if handle not in people:
        with UnitOfWork(state.db, write=False) as uow:
            people[handle] = uow.session.exec(select(Person).where(Person.handle == handle)).one()
    return people


def read(state: AppState, people: dict[str, Person], reference: str, handle: str) -> CaseDetail:
    """The case file as ``handle`` sees it."""
    return read_case(
        uow=UnitOfWork(state.db), policy=state.policy, reference=reference, viewer=people[handle]
    )

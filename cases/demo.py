"""A demo university: units, people in every role, and cases in every stage."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from cases.people.directory import UnitSpec, add_person, import_units
from cases.people.secrets import receipt_code
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.errors import InvalidInput
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Role, Stage
from cases.service import apply_action, file_report
from cases.store.db import UnitOfWork
from cases.store.models import Person, Unit

UNITS = [
    UnitSpec("league", "校团委", "University Youth League Committee"),
    UnitSpec("su", "校学生会", "University Student Union", "league"),
    UnitSpec("gsu", "研究生会", "Graduate Student Union", "league"),
    UnitSpec("cs-su", "计算机学院学生会", "School of Computing Student Union", "league"),
    UnitSpec("law-su", "法学院学生会", "Law School Student Union", "league"),
    UnitSpec("med-su", "医学院学生会", "School of Medicine Student Union", "league"),
]
STUDENT_UNITS = ["su", "gsu", "cs-su", "law-su", "med-su"]
STAFF: list[tuple[str, str, str, list[tuple[Role, str]]]] = [
    ("admin", "系统管理员", "league", [(Role.ADMIN, "league")]),
    ("sec.li", "李书记", "league", [(Role.SECRETARY, "league")]),
    ("inv.wang", "王调查", "league", [(Role.INVESTIGATOR, "league")]),
    ("inv.zhao", "赵调查", "league", [(Role.INVESTIGATOR, "league")]),
    ("ver.liu", "刘核实", "league", [(Role.VERIFIER, "league")]),
    ("rev.zhou", "周复核", "league", [(Role.VERIFIER, "league")]),
]
# The stage each demo case is carried to, in order; closing steps need the window to end.
TARGETS = [
    Stage.INTAKE,
    Stage.INVESTIGATION,
    Stage.VERIFICATION,
    Stage.DISPOSITION,
    Stage.APPEAL_WINDOW,
    Stage.APPEAL_REVIEW,
    Stage.CLOSED,
]


@dataclass(frozen=True)
class DemoResult:
    tokens: dict[str, str]
    references: dict[str, str]


def _steps(unit: str) -> list[tuple[str, c.Command, Stage]]:
    """(actor, command, stage reached) from intake to closure through an appeal."""
    advisor = f"adv.{unit}"
    sha = hashlib.sha256(b"demo evidence").hexdigest()
    return [
        (
            "inv.wang",
            c.Accept(
                category="formalism", severity="serious", investigators=["inv.wang", "inv.zhao"]
            ),
            Stage.INVESTIGATION,
        ),
        (
            "inv.wang",
            c.RecordEvidence(description="活动签到表照片", sha256=sha, filename="signin.jpg"),
            Stage.INVESTIGATION,
        ),
        (
            "inv.zhao",
            c.RecordStatement(statement="本人对反映情况作如下说明……"),
            Stage.INVESTIGATION,
        ),
        (
            "inv.wang",
            c.SubmitFindings(
                result="substantiated",
                summary="反映情况基本属实",
                recommended_disposition="public_criticism",
            ),
            Stage.VERIFICATION,
        ),
        ("sec.li", c.Assign(capacity="verifier", person="ver.liu"), Stage.VERIFICATION),
        ("ver.liu", c.Confirm(comment="证据充分"), Stage.DISPOSITION),
        (
            "inv.wang",
            c.Propose(disposition="public_criticism", rationale="情节较重"),
            Stage.DISPOSITION,
        ),
        (advisor, c.SignOff(comment="同意"), Stage.DISPOSITION),
        ("sec.li", c.CoSign(comment="同意"), Stage.APPEAL_WINDOW),
        ("subject", c.Appeal(grounds="处理过重"), Stage.APPEAL_REVIEW),
        ("sec.li", c.Assign(capacity="appeal_reviewer", person="rev.zhou"), Stage.APPEAL_REVIEW),
        (
            "rev.zhou",
            c.DecideAppeal(outcome="change", disposition="criticism", reasons=["情节轻于认定"]),
            Stage.CLOSED,
        ),
    ]


def demo_email(handle: str) -> str:
    return f"{handle}@qingfeng.example"  # .example is reserved: never a real mailbox


def seed_organisation(uow: UnitOfWork) -> dict[str, str]:
    """Units and people in every role; returns a token for each staff member."""
    import_units(uow=uow, specs=UNITS)
    tokens: dict[str, str] = {}
    for handle, name, unit, roles in STAFF:
        _, token = add_person(
            uow=uow,
            handle=handle,
            name=name,
            unit=unit,
            roles=roles,
            email=demo_email(handle),
            with_token=True,
        )
        tokens[handle] = token or ""
    for unit in STUDENT_UNITS:
        _, token = add_person(
            uow=uow,
            handle=f"adv.{unit}",
            name=f"{unit} 指导教师",
            unit=unit,
            roles=[(Role.ADVISOR, unit)],
            email=demo_email(f"adv.{unit}"),
            with_token=True,
        )
        tokens[f"adv.{unit}"] = token or ""
    return tokens


def seed_cases(
    uow: UnitOfWork, policy: Policy, *, count: int, now: datetime | None = None
) -> Iterator[tuple[str, Stage]]:
    """File ``count`` reports and carry each to the next stage in TARGETS; yields as it goes."""
    start = now or utcnow()
    for index in range(count):
        unit = STUDENT_UNITS[index % len(STUDENT_UNITS)]
        target = TARGETS[index % len(TARGETS)]
        subject_handle = f"stu.{unit}.{index:03d}"
        filed = file_report(
            uow=uow,
            policy=policy,
            reporter=None,
            receipt_code=receipt_code(),
            now=start,
            report=c.FileReport(
                unit=unit,
                subject_handle=subject_handle,
                subject_name=f"学生{index:03d}",
                summary=f"学生会活动中存在形式主义问题 #{index}",
                details="多次活动只拍照留痕,未实际开展。",
            ),
        )
        with uow:  # demo subjects have a (reserved, never real) mailbox too
            uow.session.execute(
                update(Person)
                .where(col(Person.handle) == subject_handle, col(Person.email).is_(None))
                .values(email=demo_email(subject_handle))
            )
            uow.commit()
        _carry(uow, policy, filed.reference, unit, subject_handle, target, start)
        yield filed.reference, target


def _carry(
    uow: UnitOfWork,
    policy: Policy,
    reference: str,
    unit: str,
    subject: str,
    target: Stage,
    start: datetime,
) -> None:
    if target is Stage.INTAKE:
        return
    people = _people(uow)
    for handle, command, reached in _steps(unit):
        actor = people[subject if handle == "subject" else handle]
        apply_action(
            uow=uow, policy=policy, reference=reference, actor=actor, command=command, now=start
        )
        if reached is target:
            return


def _people(uow: UnitOfWork) -> dict[str, Person]:
    with uow:
        return {p.handle: p for p in uow.session.exec(select(Person))}


def run_demo(
    uow: UnitOfWork, policy: Policy, *, cases: int, progress: Callable[[str], None] = lambda _: None
) -> DemoResult:
    """Seed the organisation and ``cases`` cases; ``progress`` is told of each case."""
    with uow:
        if uow.session.exec(select(Unit).where(Unit.code == "league")).first():
            raise InvalidInput("the demo organisation already exists in this database")
    tokens = seed_organisation(uow)
    references: dict[str, str] = {}
    for reference, stage in seed_cases(uow, policy, count=cases, now=utcnow()):
        references[reference] = stage.value
        progress(reference)
    return DemoResult(tokens, references)

"""Timelines the service itself writes, to be cloned by ``bench/scale_seed.py``.

A small template database: the demo organisation, then cases driven through
``cases.service`` (filing, every staff action, the reporter's rating) along a few paths,
with realistic working-day gaps. After every step the case's rows are snapshotted (the
case, its parties, its audit events, its deadline steps), so a clone can stop at any step:
a recent case is still open, an old one has run its course.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from sqlmodel import select as select_model

from cases.deadlines.calendar import current
from cases.demo import STUDENT_UNITS, seed_organisation
from cases.procedure import commands as c
from cases.procedure.clock import SHANGHAI, local_date, to_utc
from cases.procedure.errors import DomainError
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import AppealOutcome
from cases.reporter_side import SurveyAnswerIn, answer_survey
from cases.service import apply_action, file_report
from cases.store.db import Database, UnitOfWork
from cases.store.migrate import upgrade
from cases.store.models import AuditEvent, CaseParty, ConductCase, Deadline, Person, table_of

SHA = hashlib.sha256(b"scale evidence").hexdigest()
# Template cases are filed on these Mondays (+ variant days): clones move by whole weeks,
# so each event keeps its weekday.
BASE = datetime(2025, 3, 3, 10, tzinfo=SHANGHAI)
CATEGORIES = ["formalism", "school_rules", "public_order", "cliques", "self_serving", "other"]
SEVERITIES = ["minor", "serious", "minor", "grave"]

Step = tuple[str, Any, float]  # actor handle ('subject', 'survey'), command or score, days after


@dataclass
class Snapshot:
    """One template case's rows after ``steps`` steps (``last``: its last event's time)."""

    last: datetime
    case: dict[str, Any]
    parties: list[dict[str, Any]]
    events: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]


@dataclass
class Template:
    path: str
    unit: str
    filed: datetime
    subject_id: int
    snapshots: list[Snapshot] = field(default_factory=list)


def _work(v: int) -> list[Step]:
    """Triage to findings: accept, evidence, interview, statement."""
    severity = SEVERITIES[v % len(SEVERITIES)]
    investigators = ["inv.wang"] if v % 2 else ["inv.wang", "inv.zhao"]
    return [
        ("inv.wang", c.Accept(category=CATEGORIES[v % 6], severity=severity,
                              investigators=investigators), 1 + v % 2),
        ("inv.wang", c.RecordEvidence(description="活动签到表照片", sha256=SHA), 2),
        ("inv.wang", c.RecordInterview(interviewee="部门成员", summary="情况属实",
                                       held_on=BASE.date()), 2),
        ("subject", c.RecordStatement(statement="本人对反映情况作如下说明"), 2 + v % 3),
    ]  # fmt: skip


def _verify(result: str, disposition: str, *, returned: bool) -> list[Step]:
    findings = c.SubmitFindings(
        result=result, summary="调查结论", recommended_disposition=disposition
    )
    steps: list[Step] = [
        ("inv.wang", findings, 3),
        ("sec.li", c.Assign(capacity="verifier", person="ver.liu"), 1),
    ]
    if returned:
        steps += [("ver.liu", c.ReturnFindings(reasons=["证据不足"]), 2), ("inv.wang", findings, 4)]
    return [*steps, ("ver.liu", c.Confirm(comment="证据充分"), 2)]


def _decide(disposition: str, policy: Policy) -> list[Step]:
    steps: list[Step] = [
        ("inv.wang", c.Propose(disposition=disposition, rationale="依据规定"), 1),
        ("adv", c.SignOff(comment="同意"), 1),
    ]
    rule = policy.disposition(disposition)
    if rule is not None and rule.requires_cosign:
        steps.append(("sec.li", c.CoSign(comment="同意"), 1))
    return steps


def paths(policy: Policy, v: int) -> dict[str, list[Step]]:
    """Each path's steps for variant ``v`` (gaps in days; 'close': after the window)."""
    survey: list[Step] = [("survey", 1 + v % 5, 2)] if v % 3 != 2 else []
    close: list[Step] = [("inv.wang", c.Close(), -1), *survey]
    extension: list[Step] = [
        ("inv.wang", c.RequestExtension(reason="需要补充调查", due_on=BASE.date()), 5),
        ("sec.li", c.GrantExtension(), 1),
    ]
    heavy = ["public_criticism", "warning", "criticism"][v % 3]
    return {
        "declined": [("inv.wang", c.Decline(reason="out_of_scope", explanation="不属于"), 1)],
        "closed": [*_work(v), *_verify("substantiated", heavy, returned=False),
                   *_decide(heavy, policy), *close],
        "unfounded": [*_work(v), *_verify("unsubstantiated", "no_action", returned=False),
                      *_decide("no_action", policy), *close],
        "returned": [*_work(v), *_verify("partly_substantiated", "talk_education", returned=True),
                     *_decide("talk_education", policy), *close],
        "extended": [*_work(v)[:1], *extension, *_work(v)[1:],
                     *_verify("substantiated", "criticism", returned=False),
                     *_decide("criticism", policy), *close],
        "appealed": [*_work(v), *_verify("substantiated", "warning", returned=False),
                     *_decide("warning", policy),
                     ("subject", c.Appeal(grounds="处理过重"), 3),
                     ("sec.li", c.Assign(capacity="appeal_reviewer", person="rev.zhou"), 1),
                     ("rev.zhou", _appeal_decision(v), 6), *survey],
        "stalled": _work(v)[:1],
    }  # fmt: skip


def _appeal_decision(v: int) -> c.DecideAppeal:
    outcome = ["uphold", "change", "overturn"][v % 3]
    return c.DecideAppeal(
        outcome=AppealOutcome(outcome),
        reasons=["复查意见"],
        disposition="criticism" if outcome == "change" else None,
    )


def _rows(db: Database, case_id: int) -> Snapshot:
    with db.reader.connect() as conn:

        def rows(model: Any, *where: Any, order: Any = None) -> list[dict[str, Any]]:
            table = table_of(model)
            query = select(table).where(*where)
            query = query.order_by(order) if order is not None else query
            return [dict(r._mapping) for r in conn.execute(query)]

        case = rows(ConductCase, table_of(ConductCase).c.id == case_id)[0]
        events = rows(
            AuditEvent, table_of(AuditEvent).c.case_id == case_id, order=table_of(AuditEvent).c.seq
        )
        return Snapshot(
            events[-1]["at"],
            case,
            rows(CaseParty, table_of(CaseParty).c.case_id == case_id),
            events,
            rows(Deadline, table_of(Deadline).c.case_id == case_id),
        )


def _drive(db: Database, policy: Policy, template: Template, steps: list[Step]) -> None:
    uow = UnitOfWork(db)
    with uow:
        people = {p.handle: p for p in uow.session.exec(select_model(Person))}
    subject = next(p for p in people.values() if p.id == template.subject_id)
    reference = template.snapshots[0].case["reference"]
    case_id = template.snapshots[0].case["id"]
    now = template.filed
    for actor, command, days in steps:
        if days < 0:  # the appeal window has to end first
            ends = template.snapshots[-1].case["appeal_window_ends_at"]
            now = to_utc(ends) + timedelta(hours=2)
        else:
            now = now + timedelta(days=days)
        if isinstance(command, c.RequestExtension):
            due = template.snapshots[-1].case["due_at"]
            command = c.RequestExtension(
                reason=command.reason, due_on=current().add_working_days(local_date(due), 5)
            )
        try:
            if actor == "survey":
                answer_survey(uow=uow, case_id=case_id, answer=SurveyAnswerIn(score=command),
                              now=now)  # fmt: skip
            else:
                who = {"subject": subject, "adv": people[f"adv.{template.unit}"]}.get(actor)
                apply_action(uow=uow, policy=policy, reference=reference,
                             actor=who or people[actor], command=command, now=now)  # fmt: skip
        except DomainError as exc:
            raise SystemExit(f"template {template.path}: {command!r} refused: {exc}") from exc
        template.snapshots.append(_rows(db, case_id))


def build_templates(workdir: Path, policy: Policy, variants: int = 3) -> list[Template]:
    """Every path for every student unit and variant, driven through the service."""
    url = f"sqlite:///{workdir / 'templates.db'}"
    upgrade(url)
    db = Database(url)
    uow = UnitOfWork(db)
    seed_organisation(uow)
    templates: list[Template] = []
    number = 0
    for v in range(variants):
        for name, steps in paths(policy, v).items():
            for unit in STUDENT_UNITS:
                number += 1
                filed = to_utc(BASE + timedelta(days=v % 5))
                report = c.FileReport(unit=unit, subject_handle=f"tpl.stu.{number}",
                                      subject_name="张同学", summary="学生会活动中存在形式主义问题",
                                      details="多次活动只拍照留痕,未实际开展。")  # fmt: skip
                done = file_report(uow=uow, policy=policy, report=report, reporter=None,
                                   receipt_code="ABCD-EFGH-JKMN-PQRS", now=filed)  # fmt: skip
                with uow:
                    found = uow.session.exec(
                        select_model(ConductCase).where(
                            col(ConductCase.reference) == done.reference
                        )
                    ).one()
                assert found.id is not None
                template = Template(name, unit, filed, found.subject_id)
                template.snapshots.append(_rows(db, found.id))
                _drive(db, policy, template, steps)
                templates.append(template)
    db.dispose()
    return templates

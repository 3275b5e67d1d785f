"""Random actions by random actors; after every step the engine's promises still hold."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlmodel import col, select

from cases import audit
from cases.audit import REFUSED_EVENT
from cases.audit_state import state_problems
from cases.demo import seed_organisation
from cases.files import load_policy
from cases.people.directory import add_person
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.errors import DomainError
from cases.procedure.vocabulary import Action, Role, Stage
from cases.service import apply_action, file_report
from cases.store.db import Database, UnitOfWork
from cases.store.migrate import upgrade
from cases.store.models import (
    AuditEvent,
    CaseParty,
    ConductCase,
    Deadline,
    DeadlineExtension,
    Person,
)
from cases.views import READ_EVENT
from config.settings import DEFAULT_POLICY_FILE

POLICY = load_policy(DEFAULT_POLICY_FILE)
STAFF = [
    "sec.li",
    "inv.wang",
    "inv.zhao",
    "ver.liu",
    "rev.zhou",
    "adv.cs-su",
    "adv.law-su",
    "both.qian",
    "adv.inv",
]
SUBJECTS = ["stu.a", "stu.b", "inv.zhao", "ver.liu"]  # staff can be reported too
UNITS = ["cs-su", "law-su"]
DISPOSITIONS = [d.code for d in POLICY.dispositions]
HANDLERS = {"triage", "investigator", "verifier", "advisor", "cosigner", "appeal_reviewer"}
_template: dict[str, Path] = {}
STAGES_SEEN: set[Stage] = set()


def _template_db() -> Path:
    if "path" not in _template:
        path = Path(tempfile.mkdtemp()) / "template.db"
        upgrade(f"sqlite:///{path}")
        db = Database(f"sqlite:///{path}")
        seed_organisation(UnitOfWork(db))
        # People with two hats, so that duty conflicts are possible at all.
        add_person(
            uow=UnitOfWork(db),
            handle="both.qian",
            name="钱",
            unit="league",
            roles=[(Role.INVESTIGATOR, "league"), (Role.VERIFIER, "league")],
        )
        add_person(
            uow=UnitOfWork(db),
            handle="adv.inv",
            name="孙",
            unit="cs-su",
            roles=[
                (Role.ADVISOR, "cs-su"),
                (Role.INVESTIGATOR, "league"),
                (Role.SECRETARY, "league"),
            ],
        )
        db.dispose()
        _template["path"] = path
    return _template["path"]


def _assign(
    capacities: list[str], people: list[str], **more: st.SearchStrategy[object]
) -> st.SearchStrategy[c.Command]:
    """Assignments of one of ``people`` in one of ``capacities``."""
    return st.builds(
        c.Assign, capacity=st.sampled_from(capacities), person=st.sampled_from(people), **more
    )


STRATEGIES: dict[Action, st.SearchStrategy[c.Command]] = {
    Action.ACCEPT: st.builds(
        c.Accept,
        category=st.just("other"),
        severity=st.sampled_from(["minor", "grave"]),
        investigators=st.lists(
            st.sampled_from(["inv.wang", "both.qian", "adv.inv", *STAFF]), min_size=1, max_size=2
        ),
        override_reason=st.sampled_from([None, "人手不足"]),
    ),
    Action.DECLINE: st.builds(c.Decline, reason=st.just("out_of_scope"), explanation=st.just("x")),
    Action.ASSIGN: st.one_of(
        _assign(["verifier"], ["ver.liu", "both.qian", "rev.zhou"]),
        _assign(["appeal_reviewer"], ["rev.zhou", "ver.liu", "inv.zhao"]),
        _assign(["advisor"], ["adv.cs-su", "adv.inv", "adv.law-su"]),
        _assign(
            ["investigator", "verifier", "advisor", "appeal_reviewer"],
            STAFF + SUBJECTS,
            override_reason=st.sampled_from([None, "r"]),
        ),
    ),
    Action.RECORD_EVIDENCE: st.builds(
        c.RecordEvidence, description=st.just("e"), sha256=st.just("0" * 64)
    ),
    Action.RECORD_INTERVIEW: st.builds(
        c.RecordInterview,
        interviewee=st.just("i"),
        summary=st.just("s"),
        held_on=st.just("2026-01-01"),
    ),
    Action.RECORD_STATEMENT: st.builds(c.RecordStatement, statement=st.just("s")),
    Action.WAIVE_STATEMENT: st.builds(c.WaiveStatement, note=st.just("n")),
    Action.SUBMIT_FINDINGS: st.builds(
        c.SubmitFindings,
        result=st.just("substantiated"),
        summary=st.just("s"),
        recommended_disposition=st.sampled_from(DISPOSITIONS),
    ),
    Action.CONFIRM: st.builds(c.Confirm),
    Action.RETURN_FINDINGS: st.builds(
        c.ReturnFindings, reasons=st.lists(st.just("r"), min_size=1, max_size=1)
    ),
    Action.PROPOSE: st.builds(
        c.Propose, disposition=st.sampled_from(DISPOSITIONS), rationale=st.just("r")
    ),
    Action.SIGN_OFF: st.builds(c.SignOff),
    Action.REFUSE: st.builds(c.Refuse, comments=st.just("c")),
    Action.CO_SIGN: st.builds(c.CoSign),
    Action.APPEAL: st.builds(c.Appeal, grounds=st.just("g")),
    Action.DECIDE_APPEAL: st.builds(
        c.DecideAppeal, outcome=st.sampled_from(["uphold", "overturn"]), reasons=st.just(["r"])
    ),
    Action.CLOSE: st.builds(c.Close),
    Action.REQUEST_EXTENSION: st.builds(
        c.RequestExtension,
        reason=st.just("r"),
        due_on=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    ),
    Action.GRANT_EXTENSION: st.builds(c.GrantExtension),
    Action.REFUSE_EXTENSION: st.builds(c.RefuseExtension, reason=st.just("r")),
}
# Forward-leaning choices per stage (repeats weigh), so random runs reach every stage.
FORWARD: dict[Stage, list[str]] = {
    Stage.INTAKE: ["accept", "accept", "accept", "decline", "request_extension"],
    Stage.INVESTIGATION: [
        "record_statement",
        "submit_findings",
        "submit_findings",
        "assign",
        "waive_statement",
        "record_evidence",
    ],
    Stage.VERIFICATION: [
        "assign",
        "confirm",
        "confirm",
        "return_findings",
        "request_extension",
        "grant_extension",
        "refuse_extension",
    ],
    Stage.DISPOSITION: ["propose", "sign_off", "co_sign", "sign_off", "refuse", "assign"],
    Stage.APPEAL_WINDOW: ["appeal", "close"],
    Stage.APPEAL_REVIEW: ["assign", "decide_appeal", "decide_appeal"],
    Stage.CLOSED: [],
}
# Who is likely to be the right actor, so random runs get past intake; any actor is tried too.
LIKELY: dict[Action, list[str]] = {
    Action.ACCEPT: ["inv.wang", "sec.li"],
    Action.DECLINE: ["inv.zhao"],
    Action.ASSIGN: ["sec.li"],
    Action.RECORD_EVIDENCE: ["inv.wang", "inv.zhao"],
    Action.RECORD_INTERVIEW: ["inv.wang"],
    Action.RECORD_STATEMENT: ["inv.wang", "inv.zhao"],
    Action.WAIVE_STATEMENT: ["inv.wang", "inv.zhao"],
    Action.SUBMIT_FINDINGS: ["inv.wang", "inv.zhao"],
    Action.CONFIRM: ["ver.liu", "both.qian", "rev.zhou"],
    Action.RETURN_FINDINGS: ["ver.liu", "rev.zhou"],
    Action.PROPOSE: ["inv.wang", "sec.li"],
    Action.SIGN_OFF: ["adv.cs-su", "adv.inv", "adv.law-su"],
    Action.REFUSE: ["adv.cs-su", "adv.law-su", "sec.li"],
    Action.CO_SIGN: ["sec.li"],
    Action.APPEAL: ["stu.a", "stu.b", "inv.zhao", "ver.liu"],
    Action.DECIDE_APPEAL: ["rev.zhou", "sec.li", "adv.inv", "ver.liu"],
    Action.CLOSE: ["sec.li"],
    Action.REQUEST_EXTENSION: ["inv.wang", "ver.liu", "rev.zhou"],
    Action.GRANT_EXTENSION: ["sec.li", "adv.inv"],
    Action.REFUSE_EXTENSION: ["sec.li"],
}


class CaseLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp())
        shutil.copyfile(_template_db(), self.dir / "q.db")
        self.db = Database(f"sqlite:///{self.dir / 'q.db'}", pool_size=2)
        self.now = utcnow()
        self.references: list[str] = []
        self.versions: dict[str, int] = {}

    def teardown(self) -> None:
        self.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _person(self, handle: str) -> Person | None:
        with UnitOfWork(self.db, write=False) as uow:
            return uow.session.exec(select(Person).where(Person.handle == handle)).first()

    @precondition(lambda self: len(self.references) < 2)
    @rule(
        unit=st.sampled_from(UNITS),
        subject=st.sampled_from(SUBJECTS),
        reporter=st.sampled_from([None, "inv.wang", "stu.c"]),
    )
    def file(self, unit: str, subject: str, reporter: str | None) -> None:
        report = c.FileReport(
            unit=unit,
            subject_handle=subject,
            subject_name=subject,
            summary="s",
            details="d",
            anonymous=reporter is None,
        )
        try:
            filed = file_report(
                uow=UnitOfWork(self.db),
                policy=POLICY,
                report=report,
                reporter=self._person(reporter) if reporter else None,
                receipt_code="AAAA-BBBB-CCCC-DDDD",
                now=self.now,
            )
        except DomainError:
            return
        self.references.append(filed.reference)
        STAGES_SEEN.add(Stage(filed.stage))

    @rule(days=st.integers(min_value=0, max_value=12))
    def pass_time(self, days: int) -> None:
        self.now += timedelta(days=days)

    @precondition(lambda self: bool(self.references))
    @rule(data=st.data(), in_stage=st.integers(0, 4), likely=st.integers(0, 4))
    def act(self, data: st.DataObject, in_stage: int, likely: int) -> None:
        reference = data.draw(st.sampled_from(self.references))
        with UnitOfWork(self.db, write=False) as uow:
            stage = uow.session.exec(
                select(ConductCase.stage).where(ConductCase.reference == reference)
            ).one()
        choices = FORWARD[Stage(stage)] if in_stage else []
        action = Action(data.draw(st.sampled_from(choices or [a.value for a in Action])))
        command = data.draw(STRATEGIES[action])
        actor = data.draw(st.sampled_from(LIKELY[action] if likely else STAFF + SUBJECTS))
        self._apply(reference, actor, command)

    @precondition(lambda self: bool(self.references))
    @rule(data=st.data(), disposition=st.sampled_from(DISPOSITIONS), steps=st.integers(1, 8))
    def advance(self, data: st.DataObject, disposition: str, steps: int) -> None:
        """Well-behaved users' next steps, so random runs also reach the late stages."""
        reference = data.draw(st.sampled_from(self.references))
        for _ in range(steps):
            self._advance_once(reference, disposition)

    def _advance_once(self, reference: str, disposition: str) -> None:
        with UnitOfWork(self.db, write=False) as uow:
            case = uow.session.exec(
                select(ConductCase).where(ConductCase.reference == reference)
            ).one()
            capacities = set(
                uow.session.exec(
                    select(CaseParty.capacity).where(
                        CaseParty.case_id == case.id, col(CaseParty.active)
                    )
                )
            )
            subject = uow.session.get(Person, case.subject_id)
            unit = "cs-su" if case.unit_id == self._unit_id("cs-su") else "law-su"
        assert subject is not None
        stage = Stage(case.stage)
        step: tuple[str, c.Command] | None = {
            Stage.INTAKE: (
                "inv.wang",
                c.Accept(category="other", severity="minor", investigators=["inv.wang"]),
            ),
            Stage.INVESTIGATION: ("inv.wang", c.RecordStatement(statement="s"))
            if case.statement_state == "pending"
            else (
                "inv.wang",
                c.SubmitFindings(
                    result="substantiated", summary="s", recommended_disposition=disposition
                ),
            ),
            Stage.VERIFICATION: ("ver.liu", c.Confirm())
            if "verifier" in capacities
            else ("sec.li", c.Assign(capacity="verifier", person="ver.liu")),
            Stage.DISPOSITION: ("inv.wang", c.Propose(disposition=disposition, rationale="r"))
            if case.proposed_disposition is None
            else (f"adv.{unit}", c.SignOff())
            if case.advisor_signed_by is None
            else ("sec.li", c.CoSign()),
            Stage.APPEAL_WINDOW: (subject.handle, c.Appeal(grounds="g")),
            Stage.APPEAL_REVIEW: ("rev.zhou", c.DecideAppeal(outcome="uphold", reasons=["r"]))
            if "appeal_reviewer" in capacities
            else ("sec.li", c.Assign(capacity="appeal_reviewer", person="rev.zhou")),
        }.get(stage)
        if step is not None:
            self._apply(reference, *step)

    def _unit_id(self, code: str) -> int | None:
        from cases.store.models import Unit

        with UnitOfWork(self.db, write=False) as uow:
            return uow.session.exec(select(Unit.id).where(Unit.code == code)).one()

    # Acting is what matters: two more rules that do it make random runs go deep.
    act_again = act
    act_once_more = act

    def _apply(self, reference: str, actor: str, command: c.Command) -> None:
        person = self._person(actor)
        if person is None:
            return
        with contextlib.suppress(DomainError):
            view = apply_action(
                uow=UnitOfWork(self.db),
                policy=POLICY,
                reference=reference,
                actor=person,
                command=command,
                now=self.now,
            )
            STAGES_SEEN.add(Stage(view.stage))

    @invariant()
    def promises_hold(self) -> None:
        with UnitOfWork(self.db, write=False) as uow:
            s = uow.session
            for case in s.exec(select(ConductCase)):
                assert Stage(case.stage)  # a legal stage, or this raises
                assert case.version >= self.versions.get(case.reference, 1)
                self.versions[case.reference] = case.version
                changes = s.exec(
                    select(AuditEvent.action).where(
                        AuditEvent.case_id == case.id,
                        col(AuditEvent.action).startswith("case."),  # staff changes only
                        col(AuditEvent.action).notin_([READ_EVENT, "case.filed"]),
                    )
                ).all()
                assert case.version == 1 + len(changes)
                self._separation_of_duties(s, case)
                self._deadlines_follow_the_stage(s, case)
            report = audit.verify(s)
            assert report.ok, report.problem
            assert state_problems(s) == []  # every row is what its events say

    def _deadlines_follow_the_stage(self, s: object, case: ConductCase) -> None:
        from sqlmodel import Session

        assert isinstance(s, Session)
        pending = s.exec(
            select(Deadline).where(Deadline.case_id == case.id, Deadline.state == "pending")
        ).all()
        # Only the current stage entry's latest ladder can still fire.
        assert {(d.stage_entry, d.revision) for d in pending} <= {
            (case.stage_entry, case.extensions_granted)
        }
        assert case.extensions_granted <= POLICY.extensions.max_per_stage
        open_requests = s.exec(
            select(DeadlineExtension).where(
                DeadlineExtension.case_id == case.id, DeadlineExtension.state == "pending"
            )
        ).all()
        assert len(open_requests) == (case.extension_requested_by is not None)
        if case.stage == Stage.CLOSED:
            assert not pending and case.due_at is None

    def _separation_of_duties(self, s: object, case: ConductCase) -> None:
        from sqlmodel import Session

        assert isinstance(s, Session)
        parties = s.exec(select(CaseParty).where(CaseParty.case_id == case.id)).all()
        held: dict[int, set[str]] = {}
        for p in parties:
            held.setdefault(p.person_id, set()).add(p.capacity)
        for person_id in (case.reporter_id, case.subject_id):
            if person_id is not None:
                assert not held.get(person_id, set()) & HANDLERS, "a party handles its own case"
        for caps in held.values():
            assert not {"investigator", "verifier"} <= caps, "verifier investigated"
            if "appeal_reviewer" in caps:
                assert caps == {"appeal_reviewer"}, "appeal reviewer took part"
            if "advisor" in caps:
                assert not caps & {"investigator", "verifier"}, "advisor investigated"
        for signer in (case.advisor_signed_by, case.cosigned_by):
            if signer is not None:
                assert not held.get(signer, set()) & {"investigator", "verifier"}
        actors = s.exec(
            select(AuditEvent.actor_id, AuditEvent.action).where(
                AuditEvent.case_id == case.id,
                col(AuditEvent.action).notin_([READ_EVENT, REFUSED_EVENT]),  # acts, not tries
            )
        ).all()
        for actor_id, action in actors:
            if actor_id is not None and actor_id in (case.reporter_id, case.subject_id):
                assert action in ("case.appeal", "case.record_statement")
                assert actor_id == case.subject_id


CaseLifecycle.TestCase.settings = settings(
    max_examples=int(os.environ.get("QINGFENG_HYPOTHESIS_EXAMPLES", "30")),
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow
def test_random_actions_keep_every_promise() -> None:
    CaseLifecycle.TestCase().runTest()
    # Not vacuous: the random runs carried cases through every stage.
    assert set(Stage) == STAGES_SEEN

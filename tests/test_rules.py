"""Guards and separation of duties, enforced on every assignment and every action."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from pydantic import ValidationError
from sqlmodel import select

from api.http.deps import AppState
from cases.people.directory import add_person, declare_relationship
from cases.procedure import commands as c
from cases.procedure.clock import utcnow
from cases.procedure.errors import (
    ConflictOfInterest,
    Forbidden,
    GuardFailed,
    IllegalAction,
    IneligibleAssignee,
    SeparationOfDuties,
)
from cases.procedure.vocabulary import Role, Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, CaseParty, ConductCase, Person
from tests.helpers import PATH, act, carry_to, file, people_with, read


def _add(
    state: AppState, people: dict[str, Person], handle: str, unit: str, *roles: tuple[Role, str]
) -> Person:
    person, _ = add_person(
        uow=UnitOfWork(state.db), handle=handle, name=handle, unit=unit, roles=list(roles)
    )
    people[handle] = person
    return person


def _two_hats(state: AppState, people: dict[str, Person]) -> Person:
    """Someone who is both an investigator and a verifier."""
    roles = [(Role.INVESTIGATOR, "league"), (Role.VERIFIER, "league")]
    return _add(state, people, "both.qian", "league", *roles)


def _accept(
    state: AppState,
    people: dict[str, Person],
    ref: str,
    *investigators: str,
    override: str | None = None,
    by: str = "inv.wang",
) -> None:
    act(
        state,
        people,
        ref,
        by,
        c.Accept(
            category="other",
            severity="minor",
            investigators=list(investigators) or ["inv.wang"],
            override_reason=override,
        ),
    )


def _case(state: AppState, ref: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(ConductCase).where(ConductCase.reference == ref)).one()


def test_reporter_may_not_handle_the_case_they_reported(state: AppState, people) -> None:
    ref = file(state, reporter=people["inv.zhao"], anonymous=False)
    with pytest.raises(SeparationOfDuties) as caught:
        _accept(state, people, ref, by="inv.zhao")
    assert caught.value.rule == "actor_not_party"
    with pytest.raises(IneligibleAssignee) as refused:
        _accept(state, people, ref, "inv.zhao")  # nor be assigned to it
    assert refused.value.reason.startswith("party_not_handler")


def test_subject_may_not_be_assigned_to_their_own_case(state: AppState, people) -> None:
    ref = file(state, subject="inv.zhao")
    with pytest.raises(IneligibleAssignee) as caught:
        _accept(state, people, ref, "inv.zhao")
    # Refused like anyone without a matching role; the true reason is for the audit trail.
    assert (caught.value.rule, caught.value.field) == ("assignee_eligible", "investigators")
    assert caught.value.reason.startswith("party_not_handler")


def test_verifier_must_not_have_investigated(state: AppState, people) -> None:
    _two_hats(state, people)
    ref = file(state)
    _accept(state, people, ref, "both.qian")
    with pytest.raises(SeparationOfDuties) as caught:
        act(state, people, ref, "sec.li", c.Assign(capacity="verifier", person="both.qian"))
    assert "already investigator" in caught.value.detail


def test_action_guard_catches_a_verifier_who_investigated(state: AppState, people) -> None:
    """Even if rows were put there behind the engine's back, the action itself refuses."""
    _two_hats(state, people)
    ref = file(state)
    carry_to(state, people, ref, Stage.VERIFICATION)
    case = _case(state, ref)
    with UnitOfWork(state.db) as uow:
        for capacity in ("investigator", "verifier"):
            uow.session.add(
                CaseParty(
                    case_id=case.id,
                    person_id=people["both.qian"].id,
                    capacity=capacity,
                    since=utcnow(),
                )
            )
        uow.commit()
    with pytest.raises(SeparationOfDuties) as caught:
        act(state, people, ref, "both.qian", c.Confirm())
    assert caught.value.rule == "verifier_did_not_investigate"


def test_signing_advisor_is_not_an_investigator(state: AppState, people) -> None:
    _add(state, people, "adv.inv", "cs-su", (Role.ADVISOR, "cs-su"), (Role.INVESTIGATOR, "league"))
    ref = file(state)
    _accept(state, people, ref, "inv.wang", "adv.inv", override="指导教师兼任", by="sec.li")
    with pytest.raises(SeparationOfDuties):
        act(state, people, ref, "sec.li", c.Assign(capacity="advisor", person="adv.inv"))
    for handle, command, _ in PATH[3:8]:
        act(state, people, ref, handle, command)
    with pytest.raises(SeparationOfDuties) as caught:
        act(state, people, ref, "adv.inv", c.SignOff())
    assert caught.value.rule == "advisor_not_investigator"
    act(state, people, ref, "adv.cs-su", c.SignOff())  # the other advisor may


def test_appeal_reviewer_took_no_part(state: AppState, people) -> None:
    ref = file(state)
    carry_to(state, people, ref, Stage.APPEAL_REVIEW)
    with pytest.raises(SeparationOfDuties):
        act(state, people, ref, "sec.li", c.Assign(capacity="appeal_reviewer", person="ver.liu"))
    # The secretary co-signed, so cannot decide the appeal in person either.
    with pytest.raises(SeparationOfDuties) as caught:
        act(state, people, ref, "sec.li", c.DecideAppeal(outcome="uphold", reasons=["r"]))
    assert caught.value.rule == "reviewer_took_no_part"
    act(state, people, ref, "sec.li", c.Assign(capacity="appeal_reviewer", person="rev.zhou"))
    done = act(state, people, ref, "rev.zhou", c.DecideAppeal(outcome="uphold", reasons=["r"]))
    assert done.stage == "closed" and done.decision == "warning"


def test_same_unit_blocks_assignment_unless_the_secretary_overrides(
    state: AppState, people
) -> None:
    _add(state, people, "inv.cs", "cs-su", (Role.INVESTIGATOR, "league"))
    ref = file(state, unit="cs-su")
    with pytest.raises(ConflictOfInterest) as caught:
        _accept(state, people, ref, "inv.cs")
    assert caught.value.field == "investigators"
    with pytest.raises(ConflictOfInterest) as caught:  # an investigator cannot override
        _accept(state, people, ref, "inv.cs", override="人手不足")
    assert caught.value.field == "override_reason"
    act(
        state,
        people,
        ref,
        "sec.li",
        c.Accept(
            category="other", severity="minor", investigators=["inv.cs"], override_reason="人手不足"
        ),
    )
    party = next(p for p in read(state, people, ref, "sec.li").parties if p.person == "inv.cs")
    assert party.coi_override == "人手不足"
    with UnitOfWork(state.db, write=False) as uow:
        accepted = uow.session.exec(
            select(AuditEvent).where(
                AuditEvent.case_id == _case(state, ref).id, AuditEvent.action == "case.accept"
            )
        ).one()
    assert json.loads(accepted.data)["assigned"][0]["coi_override"] == "人手不足"


def test_declared_relationship_blocks_assignment(state: AppState, people) -> None:
    ref = file(state, subject="stu.roommate")
    declare_relationship(
        uow=UnitOfWork(state.db), handle="inv.zhao", other="stu.roommate", kind="roommate"
    )
    with pytest.raises(ConflictOfInterest) as caught:
        _accept(state, people, ref, "inv.zhao")
    assert "roommate" in caught.value.detail


def test_findings_need_statement_or_waiver_after_the_period(state: AppState, people) -> None:
    start = utcnow()
    ref = file(state, now=start)
    _accept(state, people, ref)
    findings = PATH[4][1]
    with pytest.raises(GuardFailed) as caught:
        act(state, people, ref, "inv.wang", findings)
    assert caught.value.extra["guard"] == "statement_recorded_or_waived"
    with pytest.raises(GuardFailed):  # the statement period is still running
        act(state, people, ref, "inv.wang", c.WaiveStatement(note="未陈述"))
    with time_machine.travel(start + timedelta(days=10), tick=False):
        act(state, people, ref, "inv.wang", c.WaiveStatement(note="期限届满未陈述"))
        assert act(state, people, ref, "inv.wang", findings).stage == "verification"


def test_subject_may_give_their_own_statement(state: AppState, people) -> None:
    ref = file(state, subject="stu.self")
    _accept(state, people, ref)
    people_with(state, people, "stu.self")
    view = act(state, people, ref, "stu.self", c.RecordStatement(statement="我的陈述"))
    assert view.statement_state == "recorded"
    seen = read(state, people, ref, "stu.self")
    assert seen.statement == "我的陈述"
    assert "reporter" not in seen.model_dump()  # the subject's view has no reporter at all


def test_return_needs_reasons_and_is_counted(state: AppState, people) -> None:
    ref = file(state)
    carry_to(state, people, ref, Stage.VERIFICATION)
    act(state, people, ref, "sec.li", c.Assign(capacity="verifier", person="ver.liu"))
    with pytest.raises(ValidationError, match="reasons"):  # input, refused before the procedure
        c.ReturnFindings(reasons=[])
    view = act(state, people, ref, "ver.liu", c.ReturnFindings(reasons=["缺少证人证言"]))
    assert (view.stage, view.returns_count) == ("investigation", 1)


def test_serious_sanction_needs_the_secretarys_cosign(state: AppState, people) -> None:
    ref = file(state)
    carry_to(state, people, ref, Stage.DISPOSITION)
    act(state, people, ref, "inv.wang", c.Propose(disposition="removal", rationale="严重"))
    view = act(state, people, ref, "adv.cs-su", c.SignOff())
    assert view.stage == "disposition" and view.advisor_signed and not view.cosigned
    with pytest.raises(Forbidden):
        act(state, people, ref, "inv.wang", c.CoSign())
    assert act(state, people, ref, "sec.li", c.CoSign()).stage == "appeal_window"


def test_minor_sanction_stands_on_the_advisors_signature(state: AppState, people) -> None:
    ref = file(state)
    carry_to(state, people, ref, Stage.DISPOSITION)
    act(state, people, ref, "inv.wang", c.Propose(disposition="criticism", rationale="轻微"))
    view = act(state, people, ref, "adv.cs-su", c.SignOff())
    assert view.stage == "appeal_window" and view.decision == "criticism"
    with pytest.raises(IllegalAction):
        act(state, people, ref, "sec.li", c.CoSign())


def test_only_the_subject_appeals_and_only_within_the_window(state: AppState, people) -> None:
    start = utcnow()
    ref = file(state, subject="stu.appeal", now=start)
    carry_to(state, people, ref, Stage.APPEAL_WINDOW, now=start)
    people_with(state, people, "stu.appeal")
    with pytest.raises(Forbidden):
        act(state, people, ref, "inv.wang", c.Appeal(grounds="代为申诉"))
    with pytest.raises(GuardFailed):  # the window is still open
        act(state, people, ref, "sec.li", c.Close())
    ends = _case(state, ref).appeal_window_ends_at
    assert ends is not None
    with time_machine.travel(ends + timedelta(minutes=1), tick=False):
        with pytest.raises(GuardFailed) as caught:
            act(state, people, ref, "stu.appeal", c.Appeal(grounds="不服"))
        assert caught.value.extra["guard"] == "within_appeal_window"
        assert act(state, people, ref, "sec.li", c.Close()).stage == "closed"


def test_invisible_case_is_not_found_not_forbidden(state: AppState, people) -> None:
    from cases.procedure.errors import NotFound

    ref = file(state, unit="law-su")
    with pytest.raises(NotFound):
        act(state, people, ref, "adv.cs-su", c.SignOff())
    assert _case(state, ref).version == 1

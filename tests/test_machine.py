"""Every (stage, action) pair is either allowed by the table or the right domain error."""

from __future__ import annotations

from datetime import date

import pytest

from api.http.deps import AppState
from cases.procedure import commands as c
from cases.procedure.errors import IllegalAction
from cases.procedure.machine import TRANSITIONS, allowed_actions
from cases.procedure.vocabulary import Action, Stage
from cases.store.models import Person
from tests.conftest import BOTH_DATABASES
from tests.helpers import PATH, SHA, act, carry_to, file, read

# One valid command per action, to try in every stage.
SAMPLE: dict[Action, c.Command] = {
    Action.ACCEPT: c.Accept(category="other", severity="minor", investigators=["inv.zhao"]),
    Action.DECLINE: c.Decline(reason="out_of_scope", explanation="不属于受理范围"),
    Action.ASSIGN: c.Assign(capacity="investigator", person="inv.zhao"),
    Action.RECORD_EVIDENCE: c.RecordEvidence(description="x", sha256=SHA),
    Action.RECORD_INTERVIEW: c.RecordInterview(interviewee="a", summary="b", held_on="2026-01-01"),
    Action.RECORD_STATEMENT: c.RecordStatement(statement="s"),
    Action.WAIVE_STATEMENT: c.WaiveStatement(note="n"),
    Action.SUBMIT_FINDINGS: c.SubmitFindings(
        result="unsubstantiated", summary="s", recommended_disposition="no_action"
    ),
    Action.CONFIRM: c.Confirm(),
    Action.RETURN_FINDINGS: c.ReturnFindings(reasons=["r"]),
    Action.PROPOSE: c.Propose(disposition="criticism", rationale="r"),
    Action.SIGN_OFF: c.SignOff(),
    Action.REFUSE: c.Refuse(comments="c"),
    Action.CO_SIGN: c.CoSign(),
    Action.APPEAL: c.Appeal(grounds="g"),
    Action.DECIDE_APPEAL: c.DecideAppeal(outcome="uphold", reasons=["r"]),
    Action.CLOSE: c.Close(),
    Action.REQUEST_EXTENSION: c.RequestExtension(reason="r", due_on=date(2030, 1, 7)),
    Action.GRANT_EXTENSION: c.GrantExtension(),
    Action.REFUSE_EXTENSION: c.RefuseExtension(reason="r"),
}


def test_table_names_only_predicates_and_guards_defined_once_in_guards() -> None:
    from cases.procedure import guards
    from cases.procedure.machine import Branch

    # Each Who/Guard/Condition is a constant of cases.procedure.guards whose name is its own name in
    # lower case: the name refusals and the audit trail say is the name the table reads.
    defined = {
        name: value
        for name, value in vars(guards).items()
        if isinstance(value, guards.Who | guards.Guard | guards.Condition)
    }
    for constant, value in defined.items():
        assert value.name == constant.lower(), constant
    assert len({v.name for v in defined.values()}) == len(defined)
    for (stage, action), rule in TRANSITIONS.items():
        assert rule.who in defined.values(), (stage, action)
        assert all(g in defined.values() for g in rule.guards), (stage, action)
        if isinstance(rule.to, Branch):
            assert rule.to.when in defined.values()
    sod = {v.name for v in defined.values() if getattr(v, "separation_of_duties", False)}
    assert sod == {
        "actor_not_party",
        "verifier_did_not_investigate",
        "advisor_not_investigator",
        "cosigner_did_not_investigate",
        "reviewer_took_no_part",
        "decider_not_requester",
    }
    assert not allowed_actions(Stage.CLOSED)
    assert set(SAMPLE) == set(Action)


@pytest.mark.parametrize("stage", list(Stage))
def test_actions_outside_the_table_name_stage_and_allowed_actions(
    stage: Stage, state: AppState, people: dict[str, Person]
) -> None:
    reference = file(state)
    carry_to(state, people, reference, stage)
    # What this viewer may do now, as a successful answer or the case file lists it.
    may_now = read(state, people, reference, "sec.li").allowed_actions
    assert set(may_now) <= set(allowed_actions(stage))
    for action in Action:
        if (stage, action) in TRANSITIONS:
            continue
        with pytest.raises(IllegalAction) as caught:
            act(state, people, reference, "sec.li", SAMPLE[action])
        assert caught.value.extra == {"stage": stage.value, "allowed_actions": may_now}
        assert f"stage '{stage.value}'" in caught.value.detail


@BOTH_DATABASES
def test_every_table_entry_is_carried_out_somewhere(
    state: AppState, people: dict[str, Person]
) -> None:
    """Walk paths that together use every (stage, action) of the table successfully."""
    from datetime import timedelta

    from cases.procedure.clock import utcnow
    from tests.helpers import people_with

    done: set[tuple[Stage, Action]] = set()

    def do(ref: str, handle: str, command: c.Command, **kw: object) -> None:
        before = stage_of(ref)
        act(state, people, ref, handle, command, **kw)  # type: ignore[arg-type]
        done.add((before, command.action))

    def stage_of(ref: str) -> Stage:
        return Stage(act_view(ref).stage)

    def act_view(ref: str):  # type: ignore[no-untyped-def]
        from cases.service import read_case
        from cases.store.db import UnitOfWork

        return read_case(
            uow=UnitOfWork(state.db), policy=state.policy, reference=ref, viewer=people["sec.li"]
        )

    def extend(ref: str, asker: str) -> None:
        """Ask, be refused, ask again, be granted: every extension entry of this stage."""
        from cases.deadlines.calendar import add_working_days
        from cases.procedure.clock import local_date

        due = act_view(ref).due_at
        assert due is not None
        later = add_working_days(local_date(due), 3)
        do(ref, asker, c.RequestExtension(reason="需要补充调查", due_on=later))
        do(ref, "sec.li", c.RefuseExtension(reason="理由不足"))
        do(ref, asker, c.RequestExtension(reason="证人外出", due_on=later))
        do(ref, "sec.li", c.GrantExtension(note="同意"))

    declined = file(state)
    do(declined, "inv.zhao", SAMPLE[Action.DECLINE])

    ref = file(state)
    extend(ref, "inv.wang")  # at intake
    start = utcnow()
    for handle, command, _ in PATH[:3]:
        do(ref, handle, command, now=start)
    do(ref, "sec.li", c.Assign(capacity="investigator", person="inv.zhao"), now=start)
    do(ref, "inv.zhao", c.WaiveStatement(note="期限届满未陈述"), now=start + timedelta(days=10))
    extend(ref, "inv.zhao")
    do(ref, "inv.wang", PATH[4][1])
    do(ref, "sec.li", c.Assign(capacity="verifier", person="ver.liu"))
    extend(ref, "ver.liu")
    do(ref, "ver.liu", c.ReturnFindings(reasons=["证据不足"]))
    do(ref, "inv.wang", PATH[4][1])
    do(ref, "ver.liu", c.Confirm())
    do(ref, "sec.li", c.Assign(capacity="advisor", person="adv.cs-su"))
    extend(ref, "adv.cs-su")
    do(ref, "inv.wang", c.Propose(disposition="warning", rationale="r"))
    do(ref, "adv.cs-su", c.Refuse(comments="过重"))
    do(ref, "inv.wang", c.Propose(disposition="warning", rationale="r"))
    do(ref, "adv.cs-su", c.SignOff())
    do(ref, "sec.li", c.CoSign())
    from tests.helpers import _subject_handle

    subject = _subject_handle(state, ref)
    people_with(state, people, subject)
    do(ref, subject, c.Appeal(grounds="不服"))
    do(ref, "sec.li", c.Assign(capacity="appeal_reviewer", person="rev.zhou"))
    extend(ref, "rev.zhou")
    do(ref, "rev.zhou", c.DecideAppeal(outcome="overturn", reasons=["r"]))

    ref2 = file(state)
    carry_to(state, people, ref2, Stage.APPEAL_WINDOW)
    do(ref2, "sec.li", c.Close(), now=utcnow() + timedelta(days=40))
    ref3 = file(state)
    do(ref3, "inv.wang", PATH[0][1])
    do(ref3, "inv.wang", c.RecordStatement(statement="本人陈述"))
    assert done == set(TRANSITIONS)

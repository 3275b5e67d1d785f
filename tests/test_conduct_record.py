"""The conduct-record lookup (严格选拔): one student's cases with known outcomes give
exactly the decided, standing ones in the policy period, each in force, lifted (time moved
past its period with time_machine) or without a period; the roles policy allows, and no
one else (403); the purpose required (422 naming the field); each lookup one audit event
with its purpose on the system chain, never on the cases' own, and the chain still
verifies. Through the service, POST /conduct-records and the console page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.http.deps import AppState
from cases import audit
from cases.conduct_record import (
    LOOKED_UP_EVENT,
    REFUSED_EVENT,
    ConductRecord,
    RecordStatus,
    look_up_conduct_record,
)
from cases.people.directory import add_person
from cases.procedure import commands as c
from cases.procedure.clock import local_date
from cases.procedure.errors import Forbidden, InvalidInput
from cases.procedure.vocabulary import Role, Stage
from cases.store.db import UnitOfWork
from cases.store.models import AuditEvent, ConductCase, Person
from tests.conftest import bearer
from tests.helpers import act, carry_to, file, people_with, read
from tests.test_console_board import FORM_TOKEN, Console, _clients

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
LATER = NOW + timedelta(days=60)
STUDENT = "2023010101"
PURPOSE = "拟任校学生会宣传部部长前的考察"


def _decide(
    state: AppState,
    people: dict[str, Person],
    at: datetime,
    *,
    result: str = "substantiated",
    disposition: str = "warning",
    unit: str = "cs-su",
) -> str:
    """A case about STUDENT filed at ``at``, carried to its decision (the appeal window)."""
    ref = file(state, subject=STUDENT, unit=unit, now=at)
    advisor = f"adv.{unit}"
    steps: list[tuple[str, c.Command]] = [
        ("inv.wang", c.Accept(category="formalism", severity="serious",
                              investigators=["inv.wang"])),
        ("inv.wang", c.RecordStatement(statement="陈述")),
        ("inv.wang", c.SubmitFindings(result=result, summary="结论",
                                      recommended_disposition=disposition)),
        ("sec.li", c.Assign(capacity="verifier", person="ver.liu")),
        ("ver.liu", c.Confirm()),
        ("inv.wang", c.Propose(disposition=disposition, rationale="理由")),
        (advisor, c.SignOff()),
    ]  # fmt: skip
    if state.policy.disposition(disposition).requires_cosign:  # type: ignore[union-attr]
        steps.append(("sec.li", c.CoSign()))
    for step, (handle, command) in enumerate(steps):
        act(state, people, ref, handle, command, now=at + timedelta(hours=step + 1))
    return ref


def _closed(state: AppState, people: dict[str, Person], at: datetime, **kind: str) -> str:
    """A decided case whose appeal window ended with no appeal (closed 40 days later)."""
    ref = _decide(state, people, at, **kind)
    act(state, people, ref, "sec.li", c.Close(), now=at + timedelta(days=40))
    return ref


def _appealed(state: AppState, people: dict[str, Person], at: datetime, ruling: c.Command) -> str:
    """A decided case appealed by STUDENT and ruled on by the appeal reviewer 20 days on."""
    ref = _decide(state, people, at)
    people_with(state, people, STUDENT)
    act(state, people, ref, STUDENT, c.Appeal(grounds="不服"), now=at + timedelta(days=2))
    reviewer = c.Assign(capacity="appeal_reviewer", person="rev.zhou")
    act(state, people, ref, "sec.li", reviewer, now=at + timedelta(days=3))
    act(state, people, ref, "rev.zhou", ruling, now=at + timedelta(days=20))
    return ref


@pytest.fixture
def outcomes(state: AppState, people: dict[str, Person]) -> dict[str, str]:
    """STUDENT's cases, one of each outcome; and a case about someone else."""
    refs = {
        "recent": _closed(state, people, NOW - timedelta(days=60)),
        "lifting": _closed(state, people, NOW - timedelta(days=150)),
        "changed": _appealed(
            state,
            people,
            NOW - timedelta(days=100),
            c.DecideAppeal(outcome="change", disposition="criticism", reasons=["过重"]),
        ),
        "overturned": _appealed(
            state,
            people,
            NOW - timedelta(days=120),
            c.DecideAppeal(outcome="overturn", reasons=["证据不足"]),
        ),
        "unsubstantiated": _closed(
            state,
            people,
            NOW - timedelta(days=80),
            result="unsubstantiated",
            disposition="no_action",
        ),
        "old": _closed(state, people, NOW - timedelta(days=4 * 365)),
        "open": _decide(state, people, NOW - timedelta(days=5)),
    }
    other = file(state, now=NOW - timedelta(days=70))
    carry_to(state, people, other, Stage.CLOSED, now=NOW - timedelta(days=70))
    refs["someone_else"] = other
    return refs


def _case(state: AppState, ref: str) -> ConductCase:
    with UnitOfWork(state.db, write=False) as uow:
        query = select(ConductCase).where(ConductCase.reference == ref)
        return uow.session.exec(query).one()


def _look_up(
    state: AppState, actor: Person, person: str = STUDENT, purpose: str = PURPOSE
) -> ConductRecord:
    return look_up_conduct_record(
        uow=UnitOfWork(state.db), policy=state.policy, actor=actor, person=person, purpose=purpose
    )


def _six_months_after(day: date) -> date:
    month = day.month + 6
    return day.replace(year=day.year + (month > 12), month=(month - 1) % 12 + 1)


def _lookups(state: AppState, action: str = LOOKED_UP_EVENT) -> list[AuditEvent]:
    with UnitOfWork(state.db, write=False) as uow:
        query = select(AuditEvent).where(AuditEvent.action == action)
        return list(uow.session.exec(query.order_by(col(AuditEvent.id))))


def test_exactly_the_standing_decisions_in_force_then_lifted(
    state: AppState, people: dict[str, Person], outcomes: dict[str, str]
) -> None:
    with time_machine.travel(NOW, tick=False):
        record = _look_up(state, people["sec.li"])
    assert record.person.found and record.person.name == "张同学"
    assert record.period_from == date(2023, 11, 2) and record.period_to == date(2026, 11, 2)
    rows = [(e.reference, e.disposition, e.status) for e in record.cases]
    assert rows == [
        (outcomes["recent"], "warning", RecordStatus.IN_FORCE),
        (outcomes["changed"], "criticism", RecordStatus.NO_PERIOD),
        (outcomes["lifting"], "warning", RecordStatus.IN_FORCE),
    ]
    lifting = record.cases[2]
    window_end = _case(state, outcomes["lifting"]).appeal_window_ends_at
    assert window_end is not None and lifting.took_effect_on == local_date(window_end)
    assert lifting.period_ends_on == _six_months_after(lifting.took_effect_on)
    assert lifting.period_ends_on is not None and NOW.date() < lifting.period_ends_on < LATER.date()
    changed = record.cases[1]
    assert changed.period_ends_on is None and changed.disposition_words.zh_cn == "批评教育"
    assert changed.took_effect_on == local_date(NOW - timedelta(days=80))  # the appeal ruling
    assert record.cases[0].category and record.cases[0].category.zh_cn == "形式主义、官僚主义"
    assert record.cases[0].unit_name.zh_cn == "计算机学院学生会"
    assert record.cases[0].status_words.en == "in force"

    with time_machine.travel(LATER, tick=False):
        later = _look_up(state, people["admin"])
    assert [(e.reference, e.status) for e in later.cases] == [
        (outcomes["recent"], RecordStatus.IN_FORCE),
        (outcomes["changed"], RecordStatus.NO_PERIOD),
        (outcomes["lifting"], RecordStatus.LIFTED),
    ]
    assert later.cases[2].status_words.zh_cn == "已期满解除"


def test_only_the_roles_policy_allows_and_only_over_their_units(
    state: AppState, people: dict[str, Person], outcomes: dict[str, str]
) -> None:
    for handle in ("inv.wang", "ver.liu", "adv.cs-su", STUDENT):
        with pytest.raises(Forbidden):
            _look_up(state, people_with(state, people, STUDENT)[handle])
    add_person(
        uow=UnitOfWork(state.db),
        handle="sec.law",
        name="法学院书记",
        unit="law-su",
        roles=[(Role.SECRETARY, "law-su")],
    )
    people_with(state, people, "sec.law")
    with time_machine.travel(NOW, tick=False):
        assert _look_up(state, people["sec.law"]).cases == []  # every case is in cs-su
    assert len(_lookups(state)) == 1  # the refused ones looked nothing up
    refused = _lookups(state, REFUSED_EVENT)  # but each is on the record: who, whom, why
    known = people_with(state, people, STUDENT)
    asked = [known[h].id for h in ("inv.wang", "ver.liu", "adv.cs-su", STUDENT)]
    assert [e.actor_id for e in refused] == asked
    whom = {"person_id": known[STUDENT].id, "purpose": PURPOSE}
    assert all(json.loads(e.data) == whom for e in refused)
    assert all(e.chain == audit.SYSTEM_CHAIN and STUDENT not in e.data for e in refused)


def test_the_purpose_and_the_person_are_required(
    state: AppState, people: dict[str, Person]
) -> None:
    for person, purpose, field in (
        (STUDENT, "   ", "purpose"),
        (STUDENT, "长" * 201, "purpose"),
        ("", PURPOSE, "person"),
    ):
        with pytest.raises(InvalidInput) as caught:
            _look_up(state, people["sec.li"], person, purpose)
        assert caught.value.field == field
    assert _lookups(state) == []


def test_each_lookup_is_one_audit_event_the_cases_teams_never_see(
    state: AppState, people: dict[str, Person], outcomes: dict[str, str]
) -> None:
    with time_machine.travel(NOW, tick=False):
        first = _look_up(state, people["sec.li"])
        _look_up(state, people["sec.li"], "2099999999", "核对另一名候选人")
    events = _lookups(state)
    assert len(events) == 2
    student = people_with(state, people, STUDENT)[STUDENT]
    known, unknown = (json.loads(e.data) for e in events)
    assert events[0].chain == audit.SYSTEM_CHAIN and events[0].case_id is None
    assert events[0].actor_id == people["sec.li"].id
    assert known["person_id"] == student.id and known["purpose"] == PURPOSE
    assert known["cases"] == [e.reference for e in first.cases]
    assert "person_id" not in unknown and unknown["purpose"] == "核对另一名候选人"
    assert all("张同学" not in e.data and STUDENT not in e.data for e in events)
    timeline = read(state, people, outcomes["recent"], "inv.wang").timeline
    assert not [e for e in timeline if "conduct_record" in e.action]
    with UnitOfWork(state.db, write=False) as uow:
        assert audit.verify(uow.session).ok


def test_an_unknown_number_is_said_so(state: AppState, people: dict[str, Person]) -> None:
    with time_machine.travel(NOW, tick=False):
        record = _look_up(state, people["sec.li"], "2099999999")
    assert not record.person.found and record.person.identifier == "2099999999"
    assert record.cases == []


def test_the_api(client: TestClient, tokens: dict[str, str], outcomes: dict[str, str]) -> None:
    body = {"person": STUDENT, "purpose": PURPOSE}
    with time_machine.travel(NOW, tick=False):
        answer = client.post("/conduct-records", json=body, headers=bearer(tokens["sec.li"]))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert [e["reference"] for e in found["cases"]] == [
        outcomes["recent"],
        outcomes["changed"],
        outcomes["lifting"],
    ]
    assert found["cases"][0]["status"] == "in_force" and found["period_to"] == "2026-11-02"
    refused = client.post("/conduct-records", json=body, headers=bearer(tokens["inv.wang"]))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    for sent in ({"person": STUDENT}, {"person": STUDENT, "purpose": "  "}):
        wrong = client.post("/conduct-records", json=sent, headers=bearer(tokens["sec.li"]))
        assert wrong.status_code == 422 and wrong.json()["field"] == "purpose", wrong.text
    spec = client.get("/openapi.json").json()["paths"]["/conduct-records"]["post"]
    assert {"200", "403", "422"} <= set(spec["responses"])


@pytest.fixture
def console(state: AppState, tokens: dict[str, str]) -> Iterator[Console]:
    """A signed-in console client for a demo staff member (one browser each)."""
    with _clients(state) as make:
        yield make


def test_the_console_page(console: Console, outcomes: dict[str, str]) -> None:
    secretary = console("sec.li")
    form = secretary.get("/console/conduct-record")
    assert form.status_code == 200 and "查询目的" in form.text
    assert 'href="/console/conduct-record"' in form.text  # the nav link
    token = FORM_TOKEN.search(form.text)
    assert token
    sent = {"form_token": token.group(1), "person": STUDENT, "purpose": " "}
    blank = secretary.post("/console/conduct-record", data=sent)
    assert blank.status_code == 422
    assert re.search(r'id="e-purpose"[^>]*>请填写此项。', blank.text)
    with time_machine.travel(NOW, tick=False):
        done = secretary.post("/console/conduct-record", data={**sent, "purpose": PURPOSE})
    assert done.status_code == 200
    assert done.text.count('<tr id="record-') == 3 and "期限内" in done.text
    assert outcomes["overturned"] not in done.text and outcomes["open"] not in done.text
    stale = secretary.post("/console/conduct-record", data={**sent, "form_token": "x"})
    assert stale.status_code == 403
    investigator = console("inv.wang")
    assert investigator.get("/console/conduct-record").status_code == 404
    assert 'href="/console/conduct-record"' not in investigator.get("/console").text

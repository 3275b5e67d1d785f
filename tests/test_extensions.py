"""Extensions (延期): an assignee asks, the secretary grants or refuses; steps are recomputed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient

from api.http.deps import AppState
from cases.firing import fire_due_steps
from cases.procedure import commands as c
from cases.procedure.errors import GuardFailed, InvalidInput, SeparationOfDuties
from cases.procedure.policy import Extensions
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.helpers import PATH, act, file, read

ACCEPTED = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # investigation due Fri 2026-10-16 18:00
ACCEPT = c.Accept(category="other", severity="minor", investigators=["inv.wang"])


def _investigating(state: AppState, people: dict[str, Person]) -> str:
    ref = file(state, now=ACCEPTED)
    act(state, people, ref, "inv.wang", ACCEPT, now=ACCEPTED)
    return ref


def _ask(state: AppState, people: dict[str, Person], ref: str, day: date, at: datetime) -> None:
    act(state, people, ref, "inv.wang", c.RequestExtension(reason="证人外出", due_on=day), now=at)


def test_a_granted_extension_recomputes_the_ladder_and_is_on_the_timeline(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _investigating(state, people)
    asked = ACCEPTED + timedelta(days=3)
    _ask(state, people, ref, date(2026, 10, 23), asked)
    granted = act(
        state,
        people,
        ref,
        "sec.li",
        c.GrantExtension(note="同意延期"),
        now=asked + timedelta(hours=2),
    )
    # Friday 2026-10-23 18:00 Shanghai
    assert granted.due_at == datetime(2026, 10, 23, 10, 0, tzinfo=UTC)
    with time_machine.travel(asked + timedelta(hours=3), tick=False):
        detail = read(state, people, ref, "sec.li")
    investigation = [d for d in detail.deadlines if d.stage == "investigation"]
    old = {d.step: d.state for d in investigation if d.revision == 0}
    new = {d.step: d.due_at for d in investigation if d.revision == 1 and d.state == "pending"}
    assert set(old.values()) == {"cancelled"}
    assert new == {
        "reminder": datetime(2026, 10, 22, 10, 0, tzinfo=UTC),
        "overdue": datetime(2026, 10, 23, 10, 0, tzinfo=UTC),
        "escalation_1": datetime(2026, 10, 27, 10, 0, tzinfo=UTC),
        "escalation_2": datetime(2026, 10, 30, 10, 0, tzinfo=UTC),
    }
    actions = [e.action for e in detail.timeline]
    assert actions[-2:] == ["case.request_extension", "case.grant_extension"]
    assert detail.timeline[-1].data["previous_due_at"] == "2026-10-16T10:00:00+00:00"
    [extension] = detail.extensions
    assert (extension.state, extension.requested_by, extension.decided_by) == (
        "granted",
        "inv.wang",
        "sec.li",
    )
    assert extension.granted_due_on == date(2026, 10, 23)

    # The old due time passes without a step; only the new ladder fires.
    with time_machine.travel(datetime(2026, 10, 21, tzinfo=UTC), tick=False):
        assert (
            fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=datetime.now(UTC))
            == 0
        )
    with time_machine.travel(datetime(2026, 10, 23, 11, 0, tzinfo=UTC), tick=False):
        assert (
            fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=datetime.now(UTC))
            == 2
        )


def test_one_extension_per_stage_unless_policy_allows_more(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _investigating(state, people)
    _ask(state, people, ref, date(2026, 10, 20), ACCEPTED)
    with pytest.raises(GuardFailed, match="already waiting"):
        _ask(state, people, ref, date(2026, 10, 21), ACCEPTED)
    act(state, people, ref, "sec.li", c.GrantExtension(), now=ACCEPTED)
    with pytest.raises(GuardFailed, match="allows 1 extension"):
        _ask(state, people, ref, date(2026, 10, 27), ACCEPTED)

    generous = dataclasses.replace(
        state, policy=state.policy.model_copy(update={"extensions": Extensions(max_per_stage=2)})
    )
    _ask(generous, people, ref, date(2026, 10, 27), ACCEPTED)
    act(generous, people, ref, "sec.li", c.RefuseExtension(reason="理由不足"), now=ACCEPTED)
    detail = read(state, people, ref, "sec.li")
    assert [e.state for e in detail.extensions] == ["granted", "refused"]
    assert detail.due_at == datetime(2026, 10, 20, 10, 0, tzinfo=UTC)  # the refusal changed nothing


def test_the_new_due_day_must_be_a_later_working_day(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _investigating(state, people)
    with pytest.raises(InvalidInput, match="not later than the current due day") as early:
        _ask(state, people, ref, date(2026, 10, 16), ACCEPTED)
    assert early.value.field == "due_on"
    with pytest.raises(InvalidInput, match="2026-10-24 is not a working day"):
        _ask(state, people, ref, date(2026, 10, 24), ACCEPTED)  # a Saturday
    _ask(state, people, ref, date(2026, 10, 19), ACCEPTED)
    with pytest.raises(InvalidInput, match="not a working day"):
        act(state, people, ref, "sec.li", c.GrantExtension(due_on=date(2026, 10, 25)), now=ACCEPTED)


def test_nobody_decides_their_own_request(state: AppState, people: dict[str, Person]) -> None:
    ref = file(state, now=ACCEPTED)  # at intake the secretary may ask too (triage owns it)
    act(
        state,
        people,
        ref,
        "sec.li",
        c.RequestExtension(reason="待核实", due_on=date(2026, 10, 12)),
        now=ACCEPTED,
    )
    with pytest.raises(SeparationOfDuties, match="person who asked"):
        act(state, people, ref, "sec.li", c.GrantExtension(), now=ACCEPTED)


def test_an_overdue_case_granted_more_time_is_no_longer_overdue(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _investigating(state, people)
    late = datetime(2026, 10, 19, 2, 0, tzinfo=UTC)  # Monday after the due Friday
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=late)
    assert read(state, people, ref, "sec.li").overdue
    _ask(state, people, ref, date(2026, 10, 26), late)
    granted = act(state, people, ref, "sec.li", c.GrantExtension(), now=late)
    assert (granted.overdue, granted.escalation) == (False, None)


def test_a_request_left_undecided_lapses_with_its_stage(
    state: AppState, people: dict[str, Person]
) -> None:
    ref = _investigating(state, people)
    _ask(state, people, ref, date(2026, 10, 20), ACCEPTED)
    for handle, command, _ in (PATH[3], PATH[4]):  # statement, findings: on to verification
        act(state, people, ref, handle, command, now=ACCEPTED)
    detail = read(state, people, ref, "sec.li")
    assert [e.state for e in detail.extensions] == ["lapsed"]
    assert "grant_extension" not in detail.allowed_actions


def test_extension_through_the_api(client: TestClient, tokens: dict[str, str]) -> None:
    def post(path: str, handle: str, body: dict[str, object], version: str) -> dict[str, object]:
        response = client.post(
            path,
            json=body,
            headers={"Authorization": f"Bearer {tokens[handle]}", "If-Match": version},
        )
        assert response.status_code == 200, response.text
        return {"etag": response.headers["ETag"], **response.json()}

    filed = client.post(
        "/reports",
        json={
            "unit": "cs-su",
            "subject_handle": "stu.x",
            "subject_name": "某同学",
            "summary": "s",
            "details": "d",
        },
    ).json()
    ref = filed["reference"]
    accepted = post(
        f"/cases/{ref}/accept", "inv.wang", ACCEPT.model_dump(exclude={"action"}), '"1"'
    )
    due = date.fromisoformat(str(accepted["due_at"])[:10]) + timedelta(days=14)
    while due.weekday() >= 5:
        due += timedelta(days=1)
    asked = post(
        f"/cases/{ref}/request-extension",
        "inv.wang",
        {"reason": "证人外出", "due_on": due.isoformat()},
        str(accepted["etag"]),
    )
    refused = client.post(
        f"/cases/{ref}/grant-extension",
        json={"due_on": "2000-01-03"},
        headers={"Authorization": f"Bearer {tokens['sec.li']}", "If-Match": str(asked["etag"])},
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["field"] == "due_on"
    granted = post(f"/cases/{ref}/grant-extension", "sec.li", {}, str(asked["etag"]))
    assert str(granted["due_at"]).startswith(due.isoformat())

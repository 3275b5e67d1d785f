"""Deadline rows: the policy's ladder written with the transition, cancelled on leaving."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from api.http.deps import AppState
from cases.procedure import commands as c
from cases.store.models import Person
from tests.helpers import PATH, act, file, read


def test_ladder_around_the_national_day_holiday(state: AppState, people: dict[str, Person]) -> None:
    accepted_at = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # Monday, Shanghai morning
    with time_machine.travel(accepted_at, tick=False):
        ref = file(state)
        act(
            state,
            people,
            ref,
            "inv.wang",
            c.Accept(category="other", severity="minor", investigators=["inv.wang"]),
        )
        steps = {
            d.step: d
            for d in read(state, people, ref, "sec.li").deadlines
            if d.stage == "investigation"
        }
    # 10 working days: Sep 29, 30, Oct 8, 9, 10 (a make-up Saturday), 12–16; 18:00 local.
    assert {name: d.due_at for name, d in steps.items()} == {
        "reminder": datetime(2026, 10, 15, 10, 0, tzinfo=UTC),
        "overdue": datetime(2026, 10, 16, 10, 0, tzinfo=UTC),
        "escalation_1": datetime(2026, 10, 20, 10, 0, tzinfo=UTC),
        "escalation_2": datetime(2026, 10, 23, 10, 0, tzinfo=UTC),
    }
    assert all(d.state == "pending" for d in steps.values())
    assert steps["overdue"].working_days_left == 10


def test_leaving_the_stage_cancels_its_steps(state: AppState, people: dict[str, Person]) -> None:
    ref = file(state)
    for handle, command, _ in (PATH[0], PATH[3], PATH[4]):  # accept, statement, findings
        act(state, people, ref, handle, command)
    by_stage: dict[str, set[str]] = {}
    for step in read(state, people, ref, "sec.li").deadlines:
        by_stage.setdefault(step.stage, set()).add(step.state)
    assert by_stage == {
        "intake": {"cancelled"},
        "investigation": {"cancelled"},
        "verification": {"pending"},
    }

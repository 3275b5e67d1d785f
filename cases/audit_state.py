"""The case rows against their chains: what each case's events say its stage, version,
decision, due time and assignments are, compared with what its row holds.

The hash chains (cases/audit.py) prove the events were not changed; this proves the rows
were not changed behind the events' back (an UPDATE of ``conduct_case.decision`` leaves
every chain intact). The replay reads only what the events record, so it needs no policy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from cases.deadlines.calendar import local_date
from cases.procedure.clock import to_utc
from cases.procedure.vocabulary import Action, Capacity
from cases.store.models import AuditEvent, CaseParty, ConductCase, Person, pk

STAFF_ACTIONS = frozenset(f"case.{action.value}" for action in Action)
FILED = "case.filed"
RECOMPUTED = "deadline.recomputed"
ASSIGNED = frozenset({Capacity.INVESTIGATOR, Capacity.VERIFIER, Capacity.ADVISOR,
                      Capacity.APPEAL_REVIEWER})  # fmt: skip
# Actions whose event names the decision that stands after them.
DECIDING = {f"case.{Action.DECIDE_APPEAL.value}", f"case.{Action.CLOSE.value}"}
SIGNING = {f"case.{Action.SIGN_OFF.value}", f"case.{Action.CO_SIGN.value}"}
GRANTED = f"case.{Action.GRANT_EXTENSION.value}"
# Acts that put their actor on the case: the advisor signing or refusing (refuse says "by").
ACTING = {f"case.{Action.SIGN_OFF.value}", f"case.{Action.REFUSE.value}"}


@dataclass
class Replayed:
    """A case as its chain tells it."""

    stage: str | None = None
    version: int = 0
    decision: str | None = None
    decided: bool = False
    due_at: datetime | None = None
    due_on: date | None = None  # a granted extension records its day, not its time
    assigned: set[tuple[str, str]] = field(default_factory=set)  # (handle, capacity)


def replay(events: Iterable[AuditEvent], handles: dict[int, str]) -> Replayed:
    """Fold a case's events, in order, into what they say the case is."""
    state = Replayed()
    for event in events:
        data = json.loads(event.data)
        _apply(state, event.action, data)
        if event.action in ACTING and event.actor_id is not None:  # the actor took the part
            capacity = data.get("by", Capacity.ADVISOR.value)
            state.assigned.add((handles.get(event.actor_id, "?"), capacity))
    return state


def _apply(state: Replayed, action: str, data: dict[str, Any]) -> None:
    if action == FILED:
        state.version = 1
    elif action in STAFF_ACTIONS:
        state.version += 1
    if action in (FILED, *STAFF_ACTIONS) and "stage" in data:
        state.stage = data["stage"]
        state.due_at, state.due_on = _time(data.get("due_at")), None
    elif action == RECOMPUTED:
        state.due_at, state.due_on = _time(data.get("due_at")), None
    elif action == GRANTED:
        state.due_at, state.due_on = None, date.fromisoformat(data["due_on"])
    if action in SIGNING and data.get("stage") == "appeal_window":
        state.decision, state.decided = data.get("disposition"), True
    elif action in DECIDING and "decision" in data:
        state.decision, state.decided = data["decision"], True
    for party in data.get("assigned", []) + ([data] if "capacity" in data else []):
        if "person" in party:
            state.assigned.add((party["person"], party["capacity"]))


def _time(value: str | None) -> datetime | None:
    return to_utc(datetime.fromisoformat(value)) if value else None


def differences(case: ConductCase, told: Replayed, active: set[tuple[str, str]]) -> list[str]:
    """What in the case's row (and its active assignments) its events do not say."""
    found = []
    if told.stage is not None and case.stage != told.stage:
        found.append(f"stage is {case.stage}, its events say {told.stage}")
    if case.version != told.version:
        found.append(f"version is {case.version}, its events say {told.version}")
    if (case.decision is not None or told.decided) and case.decision != told.decision:
        found.append(f"decision is {case.decision}, its events say {told.decision}")
    due = to_utc(case.due_at) if case.due_at else None
    if told.due_on is not None:
        if due is None or local_date(due) != told.due_on:
            found.append(f"due time is {due}, its events say the day {told.due_on}")
    elif told.stage is not None and due != told.due_at:
        found.append(f"due time is {due}, its events say {told.due_at}")
    for handle, capacity in sorted(active - told.assigned):
        found.append(f"{handle} is assigned as {capacity}, but no event assigned them")
    return found


def _events_by_case(session: Session) -> Iterator[tuple[int, list[AuditEvent]]]:
    query = (
        select(AuditEvent)
        .where(col(AuditEvent.chain).like("case:%"))
        .order_by(col(AuditEvent.case_id), col(AuditEvent.seq))
        .execution_options(yield_per=5000)
    )
    case_id: int | None = None
    events: list[AuditEvent] = []
    for event in session.exec(query):
        if event.case_id != case_id and events:
            assert case_id is not None
            yield case_id, events
            events = []
        case_id = event.case_id
        events.append(event)
    if events and case_id is not None:
        yield case_id, events


def _active_assignments(session: Session) -> dict[int, set[tuple[str, str]]]:
    rows = session.exec(
        select(CaseParty.case_id, Person.handle, CaseParty.capacity)
        .join(Person, col(Person.id) == col(CaseParty.person_id))
        .where(col(CaseParty.active), col(CaseParty.capacity).in_([c.value for c in ASSIGNED]))
    )
    found: dict[int, set[tuple[str, str]]] = {}
    for case_id, handle, capacity in rows:
        found.setdefault(case_id, set()).add((handle, capacity))
    return found


def state_problems(session: Session) -> list[str]:
    """Every case whose row differs from what its chain says, one line per difference."""
    people = session.exec(select(Person.id, Person.handle))
    handles = {person_id: handle for person_id, handle in people if person_id is not None}
    active = _active_assignments(session)
    chains = _events_by_case(session)
    chain = next(chains, None)
    problems = []
    cases = select(ConductCase).order_by(col(ConductCase.id)).execution_options(yield_per=2000)
    for case in session.exec(cases):  # both in id order: one pass over each
        while chain is not None and chain[0] < pk(case):
            chain = next(chains, None)
        if chain is None or chain[0] != pk(case):
            continue  # a case without its chain is the chain check's to name
        for difference in differences(case, replay(chain[1], handles), active.get(pk(case), set())):
            problems.append(f"conduct_case id {pk(case)} ({case.reference}): {difference}")
    return problems

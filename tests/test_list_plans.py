"""The case list's plans on SQLite (cases/queries.py ``_planned``) list the same cases.

At a real size a filter matching few cases drives, a range matching many bounds the walk
down the ids by its span, and a range whose cases lie scattered over the ids drives even
when it matches many. A small test database only ever takes the first: here the
thresholds are moved so that each plan lists the same filters, and all must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest
from sqlalchemy import event

from api.http.deps import AppState
from cases import queries
from cases.procedure import commands as c
from cases.queries import CaseFilter, list_cases
from cases.store.db import UnitOfWork
from cases.store.models import Person
from tests.helpers import act, file

PLANS = {
    "fewest drives": {},  # the thresholds as shipped: here every filter matches "few"
    "span bounds the walk": {"_FEW": 0, "_PAGE": 0},
    "scattered range drives": {"_FEW": 0, "_PAGE": 10**9},
}
FILTERS = [
    CaseFilter(due_within=10),
    CaseFilter(due_within=10, unit="law-su"),
    CaseFilter(due_within=10, category="formalism", severity="minor"),
    CaseFilter(stage="investigation"),
    CaseFilter(unit="cs-su", severity="serious"),
    CaseFilter(category="cliques", due_within=30),
    CaseFilter(assignee="inv.wang", due_within=10),
    CaseFilter(filed_from=datetime(2000, 1, 1, tzinfo=UTC), stage="intake"),
    CaseFilter(filed_from=datetime(2000, 1, 1, tzinfo=UTC), unit="law-su", due_within=30),
]


def _cases(state: AppState, people: dict[str, Person]) -> None:
    """Cases in two units, some accepted (category, severity, investigators), some declined
    (closed: nothing due), the rest still in intake."""
    numbers = count()
    for unit in ["cs-su", "law-su"] * 6:
        n = next(numbers)
        reference = file(state, unit=unit)
        if n % 3 == 0:
            reason = c.Decline(reason="out_of_scope", explanation="不属于")
            act(state, people, reference, "inv.wang", reason)
        elif n % 3 == 1:
            accept = c.Accept(
                category=["formalism", "cliques"][n % 2],
                severity=["minor", "serious"][n % 4 // 2],
                investigators=["inv.wang"] if n % 4 else ["inv.zhao"],
            )
            act(state, people, reference, "inv.wang", accept)


def _listed(state: AppState, viewer: Person, filters: CaseFilter) -> list[str]:
    listed, cursor = [], None
    while True:
        page = list_cases(
            uow=UnitOfWork(state.db, write=False), viewer=viewer, filters=filters,
            cursor=cursor, limit=2,
        )  # fmt: skip
        listed += [item.reference for item in page.items]
        if (cursor := page.next_cursor) is None:
            return listed


@pytest.mark.parametrize("state", ["sqlite"], indirect=True)
def test_every_plan_lists_the_same_cases(
    state: AppState, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cases(state, people)
    found: dict[str, list[list[str]]] = {}
    scattered: dict[str, list[bool]] = {}  # each plan's spans, to know it was taken
    measure = queries._id_spans
    for plan, thresholds in PLANS.items():
        with monkeypatch.context() as patched:
            for name, value in thresholds.items():
                patched.setattr(queries, name, value)

            def recorded(*args: Any, plan: str = plan) -> dict[str, queries._Span]:
                measured = measure(*args)
                scattered.setdefault(plan, []).extend(s.scattered for s in measured.values())
                return measured

            patched.setattr(queries, "_id_spans", recorded)
            found[plan] = [_listed(state, people["sec.li"], f) for f in FILTERS]
    expected = found["fewest drives"]
    assert all(expected), dict(zip(map(str, FILTERS), expected, strict=True))  # none empty
    for plan, lists in found.items():
        assert lists == expected, plan
    assert len(expected[3]) == 4  # the accepted ones
    assert scattered["span bounds the walk"] and not any(scattered["span bounds the walk"])
    assert any(scattered["scattered range drives"])


@pytest.mark.parametrize("state", ["postgres"], indirect=True)
def test_a_dense_span_unestimated_lists_the_same_cases_on_postgres(
    state: AppState, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range whose span is dense is written so that PostgreSQL cannot estimate it
    (``coalesce(…, false)``): the same cases as the range written plainly, and not the
    span's other cases (filed out of id order here)."""
    march, january = datetime(2026, 3, 10, 2, tzinfo=UTC), datetime(2026, 1, 10, 2, tzinfo=UTC)
    filed = [march, january, march, january, march, march]
    references = [file(state, now=when) for when in filed]
    in_march = CaseFilter(filed_from=datetime(2026, 3, 1, tzinfo=UTC))
    dense: list[bool] = []
    measure = queries._id_spans

    def recorded(*args: Any) -> dict[str, queries._Span]:
        measured = measure(*args)
        dense.extend(span.dense for span in measured.values())
        return measured

    with monkeypatch.context() as patched:
        patched.setattr(queries, "_id_spans", recorded)
        unestimated = _listed(state, people["sec.li"], in_march)
    with monkeypatch.context() as patched:
        patched.setattr(queries._Span, "dense", property(lambda span: False))
        plain = _listed(state, people["sec.li"], in_march)
    assert dense and all(dense)  # each page's span
    expected = [r for r, when in zip(references, filed, strict=True) if when == march]
    assert unestimated == plain == expected[::-1]  # newest first


@pytest.mark.parametrize("state", ["sqlite", "postgres"], indirect=True)
def test_closed_and_due_soon_lists_nothing(state: AppState, people: dict[str, Person]) -> None:
    _cases(state, people)
    assert _listed(state, people["sec.li"], CaseFilter(stage="closed"))  # four declined
    assert _listed(state, people["sec.li"], CaseFilter(stage="closed", due_within=10)) == []


def _plan_of_list(state: AppState, viewer: Person, filters: CaseFilter) -> str:
    """SQLite's plan for the list's page query (the last statement of the list)."""
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(state.db.reader, "before_cursor_execute", seen)
    try:
        list_cases(uow=UnitOfWork(state.db, write=False), viewer=viewer, filters=filters)
    finally:
        event.remove(state.db.reader, "before_cursor_execute", seen)
    statement, parameters = statements[-1]
    values = [getattr(value, "value", value) for value in parameters]
    with state.db.reader.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", tuple(values))
        return "\n".join(row[3] for row in rows)


@pytest.mark.parametrize("state", ["sqlite"], indirect=True)
def test_a_range_that_drives_is_walked_in_id_order_on_sqlite(
    state: AppState, people: dict[str, Person], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driving range is the set of ids it matches, walked down to a page: no sort of
    every match. Beside a dense range (a month filed), the sparser (due soon) drives and
    the month's span bounds its index entries."""
    monkeypatch.setattr(queries, "_FEW", 0)
    monkeypatch.setattr(queries, "_PAGE", 0)  # no span is "scattered": two ranges decide
    # Filed in March: two cases, all of their span. Due: five (the two, and the three of
    # January's six still in intake) over a span of eight: more cases, but sparser.
    january, march = datetime(2026, 1, 10, 2, tzinfo=UTC), datetime(2026, 3, 10, 2, tzinfo=UTC)
    for n in range(6):
        reference = file(state, now=january)
        if n % 2:
            reason = c.Decline(reason="out_of_scope", explanation="不属于")
            act(state, people, reference, "inv.wang", reason)
    march_due = [file(state, now=march) for _ in range(2)]
    filed_and_due = CaseFilter(filed_from=datetime(2026, 3, 1, tzinfo=UTC), due_within=30)
    plan = _plan_of_list(state, people["sec.li"], filed_and_due)
    assert "TEMP B-TREE" not in plan, plan
    assert "ix_case_open_due" in plan and "ix_case_filed_id" not in plan, plan
    assert _listed(state, people["sec.li"], filed_and_due) == march_due[::-1]
    monkeypatch.setattr(queries, "_PAGE", 10**9)  # every span scattered: the range drives
    plan = _plan_of_list(state, people["sec.li"], CaseFilter(due_within=30, unit="cs-su"))
    assert "TEMP B-TREE" not in plan and "ix_case_open_due" in plan, plan

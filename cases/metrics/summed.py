"""The figures summed in SQL from the projection (cases.store.figures), for the whole
committee or a unit: the same values ``compute`` reads from raw events (tests/
test_metrics_projection.py holds the two equal), at a cost of a few grouped queries.

Six queries, each grouped by unit and each over one range of a covering index: the cases
filed (their category as of the end), the cases finished (findings, decision, appeal,
rated), the counted events and the stays left (whole months from their monthly sums,
cases.metrics.monthly; the rest from rows), the cases owing staff work in the window and
the stays open at its end (both looked for among the stays entered at most the longest
stay before). An investigator's figures are not summed here: their cases are found from
their events (``compute`` reads those).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVarTuple

from sqlalchemy import Select, and_, case, func, or_, select, union_all
from sqlmodel import Session, col

from cases.metrics.compute import (
    OVERTURNED,
    SUBSTANTIATED,
    UNCATEGORISED,
    Figures,
    Value,
    Window,
    median,
    percentile_90,
    rate,
)
from cases.metrics.events import SURVEY, Scope, action_event
from cases.metrics.monthly import whole_months
from cases.procedure.clock import to_utc
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import STAFF_STAGES, Action, AppealOutcome
from cases.store.figures import NO_DAYS, FigureCase, FigureDue, FigureEvent, FigureVisit
from cases.store.figures import FigureEventMonth as EventMonth
from cases.store.figures import FigureLeftMonth as LeftMonth
from cases.store.models import Unit

Columns = TypeVarTuple("Columns")
STAFF = [stage.value for stage in STAFF_STAGES]  # the projection keeps only these stays
OVERTURN = AppealOutcome.OVERTURN.value
_INSTANT = timedelta(microseconds=1)  # the times' resolution as stored


@dataclass
class _Unit:
    """What the queries found of one unit's cases."""

    filed: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    finished: int = 0
    answered: int = 0
    events: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    owed: int = 0
    open_at_end: int = 0


class _Found:
    """What the queries found, by unit path; each row names its case's unit by id (set at
    filing, never changed), so no query joins the cases."""

    def __init__(self, session: Session, scope: Scope, lines: Iterable[str]) -> None:
        self.paths = {i: p for i, p in session.execute(select(col(Unit.id), col(Unit.path)))}
        prefix = scope.unit_path
        self.scoped = (
            None if prefix is None else [i for i, p in self.paths.items() if p.startswith(prefix)]
        )
        self.units: dict[str, _Unit] = {path: _Unit() for path in lines}

    def at(self, unit_id: int) -> _Unit:
        return self.units.setdefault(self.paths[unit_id], _Unit())

    def scoped_query(self, query: Select[*Columns], unit_id: Any) -> Select[*Columns]:
        return query if self.scoped is None else query.where(unit_id.in_(self.scoped))


def _in(column: Any, window: Window) -> Any:
    return and_(column >= window.start, column < window.end)


def _filed(session: Session, found: _Found, window: Window) -> None:
    known = func.sum(case((col(FigureCase.triaged_at) < window.end, 1), else_=0))
    what = (col(FigureCase.unit_id), col(FigureCase.category))
    query = found.scoped_query(select(*what, func.count(), known), FigureCase.unit_id)
    query = query.where(_in(col(FigureCase.filed_at), window)).group_by(*what)
    for unit_id, category, count, categorised in session.execute(query):
        unit, categorised = found.at(unit_id), int(categorised or 0) if category else 0
        unit.filed += count
        unit.categories[category or UNCATEGORISED] += categorised
        unit.categories[UNCATEGORISED] += count - categorised


def _finished(session: Session, found: _Found, window: Window) -> None:
    rated = func.sum(case((col(FigureCase.rated_at) < window.end, 1), else_=0))
    what = (
        col(FigureCase.unit_id),
        col(FigureCase.findings),
        col(FigureCase.decision),
        col(FigureCase.appeal_outcome),
    )
    query = found.scoped_query(select(*what, func.count(), rated), FigureCase.unit_id)
    query = query.where(_in(col(FigureCase.finished_at), window)).group_by(*what)
    for unit_id, findings, decision, appeal, count, rated_ in session.execute(query):
        unit, stands = found.at(unit_id), appeal != OVERTURN
        unit.finished, unit.answered = unit.finished + count, unit.answered + int(rated_ or 0)
        if stands and findings is not None:
            unit.findings[findings] += count
        decided = decision if stands else OVERTURNED
        if decided is not None:
            unit.decisions[decided] += count


def _events(session: Session, found: _Found, window: Window) -> None:
    """The counted events in the window: the sums of its whole months, the rows of the rest."""
    months, parts = whole_months(window)
    if months:
        what = (col(EventMonth.unit_id), col(EventMonth.kind), col(EventMonth.detail))
        query = found.scoped_query(select(*what, func.sum(EventMonth.count)), EventMonth.unit_id)
        query = query.where(col(EventMonth.month).in_(months)).group_by(*what)
        for unit_id, kind, detail, count in session.execute(query):
            found.at(unit_id).events[(kind, detail or None)] += int(count)
    for part in parts:
        _event_rows(session, found, part)


def _event_rows(session: Session, found: _Found, part: Window) -> None:
    what = (col(FigureEvent.unit_id), col(FigureEvent.kind), col(FigureEvent.detail))
    query = found.scoped_query(select(*what, func.count()), FigureEvent.unit_id)
    query = query.where(_in(col(FigureEvent.at), part)).group_by(*what)
    for unit_id, kind, detail, count in session.execute(query):
        found.at(unit_id).events[(kind, detail)] += count


def _longest(session: Session) -> timedelta:
    """The longest stay left so far: a stay open at a moment was entered at most this
    long before it, or has not been left."""
    return timedelta(seconds=session.scalar(select(func.max(FigureVisit.seconds))) or 0)


def _stays(session: Session, found: _Found, *, start: datetime, end: datetime) -> Any:
    """The staff stays entered before ``end`` and not left by ``start`` (left after it,
    or not at all), as a subquery of their case, unit, stage and place (``n``): those
    still open, and those left, found among the ones entered the longest stay before."""
    what = (
        col(FigureVisit.case_id),
        col(FigureVisit.n),
        col(FigureVisit.unit_id),
        col(FigureVisit.stage),
    )
    still_open = found.scoped_query(select(*what), FigureVisit.unit_id).where(
        col(FigureVisit.left_at).is_(None), col(FigureVisit.entered_at) < end
    )
    left = found.scoped_query(select(*what), FigureVisit.unit_id).where(
        col(FigureVisit.entered_at) >= start - _longest(session),
        col(FigureVisit.entered_at) < end,
        col(FigureVisit.left_at) > start,
    )
    return union_all(still_open, left).subquery()


def _owed(session: Session, found: _Found, window: Window) -> None:
    """Cases with a staff stay in the window (completion rate's denominator)."""
    # Not left by the start, or by the end if that comes first (a period not begun yet).
    since = min(window.start, window.end - _INSTANT)
    stays = _stays(session, found, start=since, end=window.end)
    query = select(stays.c.unit_id, func.count(func.distinct(stays.c.case_id)))
    for unit_id, owed in session.execute(query.group_by(stays.c.unit_id)):
        found.at(unit_id).owed += owed


def _open_at_end(session: Session, found: _Found, window: Window) -> list[tuple[str, Any]]:
    """The staff stays open at the window's end: (stage, the due time then in force)."""
    # Open at the end: not left before it (the window holds the times before its end).
    stays = _stays(session, found, start=window.end - _INSTANT, end=window.end)
    due = (
        select(col(FigureDue.due_at))
        .where(
            col(FigureDue.case_id) == stays.c.case_id,
            col(FigureDue.n) == stays.c.n,
            col(FigureDue.since) < window.end,
        )
        .order_by(col(FigureDue.k).desc())
        .limit(1)
        .scalar_subquery()
    )
    result = []
    for unit_id, stage, due_at in session.execute(select(stays.c.unit_id, stays.c.stage, due)):
        found.at(unit_id).open_at_end += 1
        result.append((stage, to_utc(due_at) if due_at else None))
    return result


Left = list[tuple[str, int | None, bool, int]]  # stage, working days, on time, how many


def _left(session: Session, found: _Found, window: Window) -> Left:
    """The staff stays left in the window: the sums of its whole months, the rows of the
    rest."""
    months, parts = whole_months(window)
    left: Left = []
    if months:
        what = (col(LeftMonth.stage), col(LeftMonth.days), col(LeftMonth.on_time))
        query = found.scoped_query(select(*what, func.sum(LeftMonth.count)), LeftMonth.unit_id)
        query = query.where(col(LeftMonth.month).in_(months)).group_by(*what)
        for stage, days, on_time, count in session.execute(query):
            left.append((stage, None if days == NO_DAYS else days, bool(on_time), int(count)))
    for part in parts:
        left += _left_rows(session, found, part)
    return left


def _left_rows(session: Session, found: _Found, part: Window) -> Left:
    in_time = or_(
        col(FigureVisit.due_at).is_(None), col(FigureVisit.left_at) <= col(FigureVisit.due_at)
    )
    what = (col(FigureVisit.stage), col(FigureVisit.days), case((in_time, 1), else_=0))
    query = found.scoped_query(select(*what, func.count()), FigureVisit.unit_id)
    query = query.where(_in(col(FigureVisit.left_at), part)).group_by(*what)
    return [(s, d, bool(t), n) for s, d, t, n in session.execute(query)]


def _on_time(left: Left, late: list[str]) -> dict[str, Value]:
    marks: dict[str, list[int]] = {stage: [0, 0] for stage in STAFF}  # on time, counted
    for stage, _, on_time, count in left:
        marks[stage][0] += count if on_time else 0
        marks[stage][1] += count
    for stage in late:
        marks[stage][1] += 1
    rates = {stage: rate(kept, counted) for stage, (kept, counted) in marks.items()}
    kept, counted = (sum(m[i] for m in marks.values()) for i in (0, 1))
    return rates | {"overall": rate(kept, counted)}


def _stage_days(left: Left, measure: Any) -> dict[str, Value]:
    days: dict[str, list[int]] = {stage: [] for stage in STAFF}
    for stage, took, _, count in left:
        if took is not None:
            days[stage] += [took] * count
    return {stage: measure(sorted(found)) for stage, found in days.items()}


def _scores(events: Counter[tuple[str, str | None]]) -> Counter[int]:
    return Counter({int(d): n for (kind, d), n in events.items() if kind == SURVEY and d})


def _mean(scores: Counter[int]) -> float | None:
    count = sum(scores.values())
    return sum(score * n for score, n in scores.items()) / count if count else None


def _scope_values(
    units: Iterable[_Unit], stays: list[tuple[str, Any]], left: list[Any], window: Window
) -> dict[str, Value]:
    every = list(units)
    events: Counter[tuple[str, str | None]] = sum((u.events for u in every), Counter())
    kinds: Counter[str] = Counter()
    for (kind, _), n in events.items():
        kinds[kind] += n

    def count(*actions: Action) -> int:
        return sum(kinds[action_event(action)] for action in actions)

    owed, still = sum(u.owed for u in every), sum(u.open_at_end for u in every)
    scores = _scores(events)
    decided = action_event(Action.DECIDE_APPEAL)
    late = [stage for stage, due in stays if due is not None and _in_window(due, window)]
    return {
        "reports_received": sum(u.filed for u in every),
        "reports_accepted": count(Action.ACCEPT),
        "reports_declined": count(Action.DECLINE),
        "cases_closed": count(Action.CLOSE, Action.DECIDE_APPEAL),
        "completion_rate": rate(owed - still, owed),
        "on_time_rate": _on_time(left, late),
        "stage_time_median": _stage_days(left, median),
        "stage_time_p90": _stage_days(left, percentile_90),
        "overdue_now": sum(1 for _, due in stays if due is not None and due < window.end),
        "verification_returns": count(Action.RETURN_FINDINGS),
        "extensions_requested": count(Action.REQUEST_EXTENSION),
        "extensions_granted": count(Action.GRANT_EXTENSION),
        "appeals_lodged": count(Action.APPEAL),
        "appeal_outcomes": {o.value: events[(decided, o.value)] for o in AppealOutcome},
        "satisfaction_mean": _mean(scores),
        "satisfaction_distribution": {str(s): scores[s] for s in range(1, 6)},
        "satisfaction_response_rate": rate(
            sum(u.answered for u in every), sum(u.finished for u in every)
        ),
    }


def _in_window(moment: Any, window: Window) -> bool:
    return window.holds(to_utc(moment))


def _unit_values(unit: _Unit, policy: Policy) -> dict[str, Value]:
    work_style = {code: unit.categories[code] for code in policy.work_style_codes}
    substantiated = {result.value: unit.findings[result.value] for result in SUBSTANTIATED}
    return {
        "reports_by_category": {
            code: unit.categories[code]
            for code in (*(c.code for c in policy.categories), UNCATEGORISED)
        },
        "work_style_reports": work_style | {"total": sum(work_style.values())},
        "substantiated_findings": substantiated | {"total": sum(substantiated.values())},
        "final_dispositions": {
            code: unit.decisions[code]
            for code in (*(d.code for d in policy.dispositions), OVERTURNED)
        },
        "completion_rate": rate(unit.owed - unit.open_at_end, unit.owed),
        "satisfaction_mean": _mean(_scores(unit.events)),
    }


def summed(
    session: Session, *, policy: Policy, window: Window, scope: Scope, units: Iterable[str] = ()
) -> Figures:
    """The figures of ``scope`` (no investigator) over ``window``, from the projection;
    ``units``: the paths of units that have a line whether or not they have figures."""
    if scope.investigator is not None:
        raise ValueError("an investigator's figures are computed from their events")
    found = _Found(session, scope, units)
    _filed(session, found, window)
    _finished(session, found, window)
    _events(session, found, window)
    _owed(session, found, window)
    stays = _open_at_end(session, found, window)
    left = _left(session, found, window)
    return Figures(
        values=_scope_values(found.units.values(), stays, left, window),
        units={path: _unit_values(unit, policy) for path, unit in sorted(found.units.items())},
    )

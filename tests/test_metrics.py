"""The figures (述职考评) from a history with known answers: twelve cases through different
paths, time moved with explicit ``now=``. Each figure is checked against values written by
hand, and recomputed independently from the raw audit_event rows (``recount``)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.http.deps import AppState
from cases.deadlines.calendar import current
from cases.firing import fire_due_steps
from cases.metrics.compute import Figures, compute
from cases.metrics.definitions import DEFINITIONS, SCOPE_FIGURES, UNIT_FIGURES
from cases.metrics.events import Event, Investigator, Period, Scope
from cases.metrics.reading import read_events
from cases.metrics.service import metrics
from cases.procedure import commands as c
from cases.procedure.clock import SHANGHAI, to_utc
from cases.procedure.errors import Forbidden
from cases.reporter_side import SurveyAnswerIn, answer_survey
from cases.store.db import UnitOfWork
from cases.store.models import ConductCase, Person, Unit
from tests.conftest import BOTH_DATABASES, bearer
from tests.helpers import act, file, people_with

MARCH = Period(date(2026, 3, 1), date(2026, 3, 31))
EARLY_MARCH = Period(date(2026, 3, 1), date(2026, 3, 5))
LATER = datetime(2026, 4, 20, 2, tzinfo=SHANGHAI)  # "now": every period above has ended


def at(month: int, day: int, hour: int = 10) -> datetime:
    """``hour`` o'clock Asia/Shanghai on a day of 2026, in UTC."""
    return to_utc(datetime(2026, month, day, hour, tzinfo=SHANGHAI))


class History:
    """Drives the cases; each method is one step of the procedure at a given time."""

    def __init__(self, state: AppState, people: dict[str, Person]) -> None:
        self.state, self.people = state, people
        self.refs: dict[str, str] = {}

    def file(self, name: str, when: datetime, unit: str = "cs-su") -> None:
        self.refs[name] = file(self.state, unit=unit, subject=f"stu.{name.lower()}", now=when)

    def act(self, name: str, who: str, command: c.Command, when: datetime) -> None:
        if who.startswith("stu."):
            people_with(self.state, self.people, who)
        act(self.state, self.people, self.refs[name], who, command, now=when)

    def accept(self, name: str, who: str, category: str, severity: str, when: datetime,
               investigators: list[str] | None = None) -> None:  # fmt: skip
        command = c.Accept(
            category=category, severity=severity, investigators=investigators or [who]
        )
        self.act(name, who, command, when)

    def findings(
        self, name: str, who: str, result: str, when: datetime, *, statement: bool = True
    ) -> None:
        if statement:
            self.act(name, who, c.RecordStatement(statement="陈述"), when)
        command = c.SubmitFindings(
            result=result, summary="结论", recommended_disposition="criticism"
        )
        self.act(name, who, command, when)

    def verify(self, name: str, when: datetime, *, assign: bool = True) -> None:
        if assign:
            self.act(name, "sec.li", c.Assign(capacity="verifier", person="ver.liu"), when)
        self.act(name, "ver.liu", c.Confirm(), when)

    def decide(self, name: str, who: str, disposition: str, unit: str, when: datetime) -> None:
        self.act(name, who, c.Propose(disposition=disposition, rationale="理由"), when)
        self.act(name, f"adv.{unit}", c.SignOff(), when)
        if self.state.policy.disposition(disposition).requires_cosign:  # type: ignore[union-attr]
            self.act(name, "sec.li", c.CoSign(), when)

    def appeal(self, name: str, when: datetime) -> None:
        self.act(name, f"stu.{name.lower()}", c.Appeal(grounds="不服"), when)
        self.act(name, "sec.li", c.Assign(capacity="appeal_reviewer", person="rev.zhou"), when)

    def rate(self, name: str, score: int, when: datetime) -> None:
        with UnitOfWork(self.state.db, write=False) as uow:
            case = uow.session.exec(
                select(ConductCase).where(ConductCase.reference == self.refs[name])
            )
            case_id = case.one().id
        assert case_id is not None
        answer = SurveyAnswerIn(score=score)
        answer_survey(uow=UnitOfWork(self.state.db), case_id=case_id, answer=answer, now=when)


def build(state: AppState, people: dict[str, Person]) -> History:
    """The history, in time order (the deadline worker runs once, on 20 March)."""
    h = History(state, people)
    h.file("I", at(2, 2))
    h.accept("I", "inv.wang", "other", "minor", at(2, 3))  # due 24 Feb (春节): overdue
    for name in "ABCDFGHJ":
        h.file(name, at(3, 2), unit="law-su" if name in "CH" else "cs-su")
    h.act("A", "inv.wang", c.Decline(reason="out_of_scope", explanation="不属于"), at(3, 3))
    h.accept("C", "inv.zhao", "cliques", "minor", at(3, 3))
    h.accept("F", "inv.wang", "school_rules", "minor", at(3, 3))
    h.accept("G", "inv.wang", "formalism", "serious", at(3, 3), ["inv.wang", "inv.zhao"])
    h.accept("H", "inv.wang", "public_order", "serious", at(3, 3))
    h.accept("B", "inv.wang", "formalism", "serious", at(3, 4))
    h.findings("F", "inv.wang", "unsubstantiated", at(3, 4))
    h.findings("G", "inv.wang", "substantiated", at(3, 4))
    h.verify("G", at(3, 4))
    h.findings("H", "inv.wang", "partly_substantiated", at(3, 4))
    h.verify("H", at(3, 4))
    h.decide("H", "inv.wang", "talk_education", "law-su", at(3, 4))
    h.findings("C", "inv.zhao", "substantiated", at(3, 5))
    h.act("C", "sec.li", c.Assign(capacity="verifier", person="ver.liu"), at(3, 5))
    h.findings("B", "inv.wang", "substantiated", at(3, 6))
    h.verify("F", at(3, 5))
    h.decide("F", "inv.wang", "no_action", "cs-su", at(3, 5))
    h.decide("G", "inv.wang", "public_criticism", "cs-su", at(3, 5))
    h.appeal("H", at(3, 5))
    h.act("C", "ver.liu", c.ReturnFindings(reasons=["补充证据"]), at(3, 6))
    h.appeal("G", at(3, 6))
    h.verify("B", at(3, 9))
    h.act(
        "H",
        "rev.zhou",
        c.DecideAppeal(outcome="change", disposition="criticism", reasons=["过重"]),
        at(3, 9),
    )
    h.file("E", at(3, 9))
    h.accept("E", "inv.wang", "self_serving", "grave", at(3, 9, 15))
    h.decide("B", "inv.wang", "warning", "cs-su", at(3, 10))
    h.act("G", "rev.zhou", c.DecideAppeal(outcome="overturn", reasons=["证据不足"]), at(3, 10))
    h.act(
        "J",
        "inv.zhao",
        c.Decline(reason="duplicate", explanation="重复", duplicate_of=h.refs["A"]),
        at(3, 10),
    )
    h.rate("G", 1, at(3, 11))
    h.act(
        "C", "inv.zhao", c.RequestExtension(reason="证人外出", due_on=date(2026, 3, 27)), at(3, 19)
    )
    h.act("C", "sec.li", c.GrantExtension(), at(3, 19))
    fire_due_steps(uow=UnitOfWork(state.db), policy=state.policy, now=at(3, 20, 12))  # F closes
    h.rate("F", 3, at(3, 23))
    h.file("K", at(3, 25))
    h.findings("C", "inv.zhao", "substantiated", at(3, 26), statement=False)
    h.verify("C", at(3, 27), assign=False)
    h.decide("C", "inv.zhao", "criticism", "law-su", at(3, 27))
    h.act("B", "sec.li", c.Close(), at(3, 30))
    h.appeal("C", at(3, 30))
    h.rate("B", 5, at(3, 31))
    h.file("L", at(4, 1))
    h.accept("K", "inv.wang", "other", "minor", at(4, 2))
    return h


# --- The independent recount: straight from the audit_event rows, none of cases.metrics. ---
NEXT = {
    "case.filed": "intake", "case.accept": "investigation", "case.decline": "closed",
    "case.submit_findings": "verification", "case.return_findings": "investigation",
    "case.confirm": "disposition", "case.co_sign": "appeal_window",
    "case.appeal": "appeal_review", "case.decide_appeal": "closed", "case.close": "closed",
}  # fmt: skip
STAFF = ["intake", "investigation", "verification", "disposition", "appeal_review"]


def _rows(state: AppState, before: datetime) -> dict[int, list[dict[str, Any]]]:
    import json

    from sqlalchemy import text

    query = text(
        "SELECT e.case_id, e.seq, e.action, e.at, e.data, e.actor_id, u.path FROM audit_event e"
        " JOIN conduct_case k ON k.id = e.case_id JOIN unit u ON u.id = k.unit_id"
        " WHERE e.chain LIKE 'case:%' ORDER BY e.case_id, e.seq"
    )
    cases: dict[int, list[dict[str, Any]]] = {}
    with UnitOfWork(state.db, write=False) as uow:
        for row in uow.session.execute(query):
            moment = to_utc(
                row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
            )
            if moment < before:
                event = {"action": row.action, "at": moment, "data": json.loads(row.data),
                         "actor": row.actor_id, "path": row.path}  # fmt: skip
                cases.setdefault(row.case_id, []).append(event)
    return cases


def _end_of(day: date, policy: Any) -> datetime:
    return to_utc(datetime.combine(day, policy.end_of_day, tzinfo=SHANGHAI))


def _stays(events: list[dict[str, Any]], policy: Any) -> list[dict[str, Any]]:
    """[{stage, entered, left, due}] walked from the events."""
    cal, severity, cosign = current(), None, False
    stays: list[dict[str, Any]] = []
    for e in events:
        action, data = e["action"], e["data"]
        severity = data.get("severity", severity) if action == "case.accept" else severity
        cosign = data.get("requires_cosign", cosign) if action == "case.propose" else cosign
        target = NEXT.get(action)
        if action == "case.sign_off" and not cosign:
            target = "appeal_window"
        if target:
            if stays:
                stays[-1]["left"] = e["at"]
            rule = getattr(policy.deadlines, target, None)
            due = None
            if rule is not None:
                days = rule.by_severity.get(severity or "", rule.working_days)
                due = _end_of(
                    cal.add_working_days(e["at"].astimezone(SHANGHAI).date(), days), policy
                )
            stays.append({"stage": target, "entered": e["at"], "left": None, "due": due})
        elif action == "case.grant_extension":
            stays[-1]["due"] = _end_of(date.fromisoformat(data["due_on"]), policy)
        elif action.startswith("deadline.") and data.get("stage") == stays[-1]["stage"]:
            recorded = (
                data.get("due_at") if action == "deadline.recomputed" else data.get("overdue_since")
            )
            if recorded:
                stays[-1]["due"] = datetime.fromisoformat(recorded)
    return stays


def _days(start: datetime, end: datetime) -> int:
    day, last, count = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date(), 0
    while day < last:
        day = date.fromordinal(day.toordinal() + 1)
        count += current().is_working_day(day)
    return count


def _rate(n: int, d: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "rate": n / d if d else None}


def _theirs(events: list[dict[str, Any]], person: Person) -> bool:
    """The investigator triaged the case or was assigned to investigate it."""
    for e in events:
        if e["action"] in ("case.accept", "case.decline") and e["actor"] == person.id:
            return True
        named = e["data"].get("assigned", []) if e["action"] == "case.accept" else [e["data"]]
        if e["action"] in ("case.accept", "case.assign") and any(
            a.get("person") == person.handle and a.get("capacity") == "investigator" for a in named
        ):
            return True
    return False


def recount(
    state: AppState, period: Period, *, unit: str | None = None, person: Person | None = None
) -> dict[str, Any]:
    import statistics

    start, end, policy = period.start, min(period.end, LATER), state.policy
    cases = _rows(state, end)
    if unit:
        with UnitOfWork(state.db, write=False) as uow:
            prefix = uow.session.exec(select(Unit.path).where(Unit.code == unit)).one()
        cases = {k: v for k, v in cases.items() if v[0]["path"].startswith(prefix)}
    if person:
        cases = {k: v for k, v in cases.items() if _theirs(v, person)}
    inside = lambda t: t is not None and start <= t < end  # noqa: E731

    def count(*actions: str) -> int:
        return sum(
            1 for v in cases.values() for e in v if e["action"] in actions and inside(e["at"])
        )

    stays = {k: _stays(v, policy) for k, v in cases.items()}
    marks: dict[str, list[bool]] = {s: [] for s in STAFF}
    took: dict[str, list[int]] = {s: [] for s in STAFF}
    for visits in stays.values():
        for v in visits:
            if v["stage"] not in STAFF:
                continue
            if v["left"] is not None and inside(v["left"]):
                marks[v["stage"]].append(v["due"] is None or v["left"] <= v["due"])
                took[v["stage"]].append(_days(v["entered"], v["left"]))
            elif v["left"] is None and inside(v["due"]):
                marks[v["stage"]].append(False)
    owed = [
        k
        for k, visits in stays.items()
        if any(
            v["stage"] in STAFF and v["entered"] < end and (v["left"] is None or v["left"] > start)
            for v in visits
        )
    ]
    finished = {
        k
        for k, v in cases.items()
        for e in v
        if e["action"] in ("case.close", "case.decide_appeal") and inside(e["at"])
    }
    scores = [
        e["data"]["score"]
        for v in cases.values()
        for e in v
        if e["action"] == "survey.answered" and inside(e["at"])
    ]
    rated = {k for k, v in cases.items() if any(e["action"] == "survey.answered" for e in v)}
    everything = [m for s in STAFF for m in marks[s]]
    outcomes = [
        e["data"]["outcome"]
        for v in cases.values()
        for e in v
        if e["action"] == "case.decide_appeal" and inside(e["at"])
    ]
    return {
        "reports_received": count("case.filed"),
        "reports_accepted": count("case.accept"),
        "reports_declined": count("case.decline"),
        "cases_closed": count("case.close", "case.decide_appeal"),
        "completion_rate": _rate(
            sum(1 for k in owed if stays[k][-1]["stage"] in ("appeal_window", "closed")), len(owed)
        ),
        "on_time_rate": {s: _rate(sum(marks[s]), len(marks[s])) for s in STAFF}
        | {"overall": _rate(sum(everything), len(everything))},
        "stage_time_median": {
            s: float(statistics.median(took[s])) if took[s] else None for s in STAFF
        },
        "stage_time_p90": {
            s: sorted(took[s])[-(-9 * len(took[s]) // 10) - 1] if took[s] else None for s in STAFF
        },
        "overdue_now": sum(
            1
            for visits in stays.values()
            if visits[-1]["stage"] in STAFF and visits[-1]["due"] and visits[-1]["due"] < end
        ),
        "verification_returns": count("case.return_findings"),
        "extensions_requested": count("case.request_extension"),
        "extensions_granted": count("case.grant_extension"),
        "appeals_lodged": count("case.appeal"),
        "appeal_outcomes": {o: outcomes.count(o) for o in ("uphold", "change", "overturn")},
        "satisfaction_mean": sum(scores) / len(scores) if scores else None,
        "satisfaction_distribution": {str(n): scores.count(n) for n in range(1, 6)},
        "satisfaction_response_rate": _rate(len(finished & rated), len(finished)),
    }


def recount_unit(
    state: AppState, period: Period, unit: str, person: Person | None
) -> dict[str, Any]:
    """The 述职考评 figures of one unit, straight from the rows."""
    start, end, policy = period.start, min(period.end, LATER), state.policy
    with UnitOfWork(state.db, write=False) as uow:
        path = uow.session.exec(select(Unit.path).where(Unit.code == unit)).one()
    cases = {
        k: v
        for k, v in _rows(state, end).items()
        if v[0]["path"] == path and (person is None or _theirs(v, person))
    }
    inside = lambda t: start <= t < end  # noqa: E731
    categories = {c.code: 0 for c in policy.categories} | {"uncategorised": 0}
    dispositions = {d.code: 0 for d in policy.dispositions} | {"overturned": 0}
    found = {"substantiated": 0, "partly_substantiated": 0}
    for events in cases.values():
        by = {e["action"]: e for e in events}  # the last of each action
        if inside(events[0]["at"]):
            categories[
                by.get("case.accept", {"data": {}})["data"].get("category", "uncategorised")
            ] += 1
        ends = [
            e
            for e in events
            if e["action"] in ("case.close", "case.decide_appeal") and inside(e["at"])
        ]
        if not ends:
            continue
        appeal = by.get("case.decide_appeal")
        if appeal and appeal["data"]["outcome"] == "overturn":
            dispositions["overturned"] += 1
            continue
        decision = (
            appeal["data"]["decision"] if appeal else by["case.sign_off"]["data"]["disposition"]
        )
        dispositions[decision] += 1
        result = by["case.submit_findings"]["data"]["result"]
        found[result] = found.get(result, 0) + 1
    style = {k: categories[k] for k in ("cliques", "self_serving", "formalism")}
    figures = recount(state, period, unit=unit, person=person)
    return {
        "reports_by_category": categories,
        "work_style_reports": style | {"total": sum(style.values())},
        "substantiated_findings": {k: found[k] for k in ("substantiated", "partly_substantiated")}
        | {"total": found["substantiated"] + found["partly_substantiated"]},
        "final_dispositions": dispositions,
        "completion_rate": figures["completion_rate"],
        "satisfaction_mean": figures["satisfaction_mean"],
    }


def read(state: AppState, people: dict[str, Person], period: Period, **scope: str) -> Any:
    report = metrics(
        uow=UnitOfWork(state.db, write=False), policy=state.policy, period=period,
        viewer=people["sec.li"], now=LATER, **scope,
    )  # fmt: skip
    values = {f.code: f.value for f in report.figures}
    units = {u.unit: {f.code: f.value for f in u.figures} for u in report.units}
    return values, units


def _r(n: int, d: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "rate": n / d}


def test_the_committees_figures_for_march_are_the_known_answers(
    state: AppState, people: dict[str, Person]
) -> None:
    build(state, people)
    values, units = read(state, people, MARCH)
    assert values["reports_received"] == 10  # A-H, J, K (I in February, L in April)
    assert (values["reports_accepted"], values["reports_declined"]) == (6, 2)
    assert values["cases_closed"] == 4  # B closed, F closed by the window, G and H on appeal
    assert values["completion_rate"] == _r(6, 11)  # done: A B F G H J; not: C D E I K
    on_time = values["on_time_rate"]
    assert on_time["intake"] == _r(7, 10)  # D and K still in intake past due, J declined late
    assert on_time["investigation"] == _r(6, 6)  # C's second stay within its extension
    assert (on_time["verification"], on_time["disposition"]) == (_r(6, 6), _r(5, 5))
    assert on_time["appeal_review"] == _r(2, 2)
    assert on_time["overall"] == _r(26, 29)
    assert values["stage_time_median"] == {
        "intake": 1.0, "investigation": 1.5, "verification": 1.0, "disposition": 0.0,
        "appeal_review": 2.0,
    }  # fmt: skip
    assert values["stage_time_p90"] == {
        "intake": 6,
        "investigation": 14,
        "verification": 1,
        "disposition": 1,
        "appeal_review": 2,
    }
    assert values["overdue_now"] == 3  # D, I, K
    assert values["verification_returns"] == 1
    assert (values["extensions_requested"], values["extensions_granted"]) == (1, 1)
    assert values["appeals_lodged"] == 3
    assert values["appeal_outcomes"] == {"uphold": 0, "change": 1, "overturn": 1}
    assert values["satisfaction_mean"] == 3.0
    assert values["satisfaction_distribution"] == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 1}
    assert values["satisfaction_response_rate"] == _r(3, 4)  # H's reporter has not rated
    cs, law = units["cs-su"], units["law-su"]
    assert {k: v for k, v in cs["reports_by_category"].items() if v} == {
        "formalism": 2,
        "self_serving": 1,
        "school_rules": 1,
        "uncategorised": 4,
    }
    assert cs["work_style_reports"] == {"cliques": 0, "self_serving": 1, "formalism": 2, "total": 3}
    # G's substantiated findings were overturned on appeal: nothing counts against G's subject.
    assert cs["substantiated_findings"] == {
        "substantiated": 1,
        "partly_substantiated": 0,
        "total": 1,
    }
    assert {k: v for k, v in cs["final_dispositions"].items() if v} == {
        "warning": 1,
        "no_action": 1,
        "overturned": 1,
    }
    assert (cs["completion_rate"], cs["satisfaction_mean"]) == (_r(5, 9), 3.0)
    assert law["work_style_reports"]["total"] == 1 and law["reports_by_category"]["cliques"] == 1
    assert law["substantiated_findings"] == {
        "substantiated": 0,
        "partly_substantiated": 1,
        "total": 1,
    }
    assert {k: v for k, v in law["final_dispositions"].items() if v} == {"criticism": 1}
    assert (law["completion_rate"], law["satisfaction_mean"]) == (_r(1, 2), None)


def test_period_unit_and_investigator_filters(state: AppState, people: dict[str, Person]) -> None:
    build(state, people)
    early, _ = read(state, people, EARLY_MARCH)
    assert (early["reports_received"], early["reports_accepted"]) == (8, 5)
    assert (early["reports_declined"], early["cases_closed"], early["appeals_lodged"]) == (1, 0, 1)
    assert early["overdue_now"] == 3  # at the end of 5 March: D, J (intake due at 18:00) and I
    law, law_units = read(state, people, MARCH, unit="law-su")
    assert (law["reports_received"], law["reports_accepted"], law["cases_closed"]) == (2, 2, 1)
    assert (law["verification_returns"], law["extensions_granted"], law["appeals_lodged"]) == (
        1,
        1,
        2,
    )
    assert list(law_units) == ["law-su"]
    zhao, _ = read(state, people, MARCH, investigator="inv.zhao")  # C, G (assigned), J (declined)
    assert (zhao["reports_received"], zhao["reports_accepted"], zhao["reports_declined"]) == (
        3,
        2,
        1,
    )
    assert zhao["completion_rate"] == _r(2, 3)
    league, _ = read(state, people, MARCH, unit="league")
    assert league == read(state, people, MARCH)[0]  # the root unit is the whole committee


SCOPES: list[tuple[Period, dict[str, str]]] = [
    (MARCH, {}),
    (EARLY_MARCH, {}),
    (Period(date(2026, 2, 1), date(2026, 4, 30)), {}),
    (MARCH, {"unit": "law-su"}),
    (MARCH, {"unit": "cs-su"}),
    (MARCH, {"investigator": "inv.zhao"}),
    (EARLY_MARCH, {"investigator": "inv.wang"}),
    # Periods after some cases closed: G (closed 10 March, rated the 11th), F (20th, 23rd).
    (Period(date(2026, 3, 11), date(2026, 4, 30)), {}),
    (Period(date(2026, 3, 21), date(2026, 4, 30)), {"unit": "cs-su"}),
    (Period(date(2026, 4, 1), date(2026, 4, 30)), {}),
]


@BOTH_DATABASES
def test_every_figure_recounted_from_the_raw_rows(
    state: AppState, people: dict[str, Person]
) -> None:
    build(state, people)
    for period, scope in SCOPES:
        values, units = read(state, people, period, **scope)
        person = people[scope["investigator"]] if "investigator" in scope else None
        assert values == recount(state, period, unit=scope.get("unit"), person=person), (
            period,
            scope,
        )
        for code, figures in units.items():
            assert figures == recount_unit(state, period, code, person), (period, scope, code)


def test_compute_is_pure_and_every_figure_has_its_definition() -> None:
    """Plain events in, figures out; each figure's code has a definition in both languages,
    and the operators' page (docs/metrics.md) explains it."""
    ev = lambda seq, action, day, **data: Event(1, seq, "/1/4/", action, at(3, day), data)  # noqa: E731
    events = [
        ev(1, "case.filed", 2),
        ev(2, "case.accept", 3, category="cliques", severity="minor", assigned=[]),
        ev(3, "case.submit_findings", 20, result="substantiated"),  # investigation: 13 days
    ]
    figures = compute(events, policy=_policy(), calendar=current(), period=MARCH, scope=Scope())
    assert figures.values["on_time_rate"]["investigation"] == _r(0, 1)  # due 17 March
    assert figures.values["stage_time_median"]["investigation"] == 13.0
    assert figures.values["completion_rate"] == _r(0, 1)
    assert list(figures.values) == list(SCOPE_FIGURES)
    assert list(figures.units["/1/4/"]) == list(UNIT_FIGURES)
    assert set(SCOPE_FIGURES) | set(UNIT_FIGURES) == set(DEFINITIONS)
    page = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    for code, d in DEFINITIONS.items():
        for label in (d.name, d.definition, d.computation):
            assert label.zh_cn.strip() and label.en.strip(), code
        assert f"`{code}`" in page, f"docs/metrics.md does not explain {code}"


def _policy() -> Any:
    from cases.files import load_policy
    from config.settings import DEFAULT_POLICY_FILE

    return load_policy(DEFAULT_POLICY_FILE)


def test_metrics_api_who_may_read_what(
    state: AppState, people: dict[str, Person], tokens: dict[str, str], client: TestClient
) -> None:
    h = History(state, people)
    h.file("A", at(3, 2))
    h.accept("A", "inv.zhao", "formalism", "minor", at(3, 3))
    march = "from=2026-03-01&to=2026-03-31"
    answer = client.get(f"/performance?{march}", headers=bearer(tokens["sec.li"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [f["code"] for f in body["figures"]] == list(SCOPE_FIGURES)
    first = body["figures"][0]
    assert first["value"] == 1 and first["definition"]["zh-CN"] and first["definition"]["en"]
    assert [u["unit"] for u in body["units"]] == ["cs-su"]
    named = client.get("/performance?period=2026-03", headers=bearer(tokens["sec.li"]))
    assert named.json() == body  # the CLI's period words name the same days
    own = client.get(
        f"/performance?{march}&investigator=inv.zhao", headers=bearer(tokens["inv.zhao"])
    )
    assert own.status_code == 200 and own.json()["figures"][1]["value"] == 1
    for who, query in [
        ("inv.zhao", march),  # an investigator reads their own figures, not the committee's
        ("inv.wang", f"{march}&investigator=inv.zhao"),
        ("inv.wang", f"{march}&investigator=nobody.at.all"),  # refused before the name is looked up
        ("adv.cs-su", march),
    ]:
        refused = client.get(f"/performance?{query}", headers=bearer(tokens[who]))
        assert refused.status_code == 403, (who, query)
        assert refused.json()["field"] == "investigator"
    for query, field in [
        ("from=2026-03-31&to=2026-03-01", "to"),
        (f"{march}&unit=nowhere", "unit"),
        (f"{march}&investigator=nobody.at.all", "investigator"),
        (f"{march}&scope=all", "scope"),
        ("period=2026-13", "period"),
        (f"period=2026&{march}", "period"),
    ]:
        wrong = client.get(f"/performance?{query}", headers=bearer(tokens["sec.li"]))
        assert wrong.status_code == 422 and wrong.json()["field"] == field, (query, wrong.text)
    assert client.get(f"/performance?{march}").status_code == 401


def test_the_service_refuses_before_reading(state: AppState, people: dict[str, Person]) -> None:
    with pytest.raises(Forbidden):
        metrics(
            uow=UnitOfWork(state.db, write=False), policy=state.policy, period=MARCH,
            viewer=people["ver.liu"], investigator="ver.liu",
        )  # fmt: skip
    investigator = Investigator(people["inv.wang"].id or 0, "inv.wang")
    with UnitOfWork(state.db, write=False) as uow:  # nothing filed: no events, no error
        assert read_events(uow.session, Scope("/1/", investigator), LATER) == []
    assert isinstance(
        compute([], policy=state.policy, calendar=current(), period=MARCH, scope=Scope()), Figures
    )

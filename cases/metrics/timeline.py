"""One case's timeline read back: its stage visits with their due times, and its outcome.

The stage an event leads to comes from the procedure's own table (``TRANSITIONS``), so the
stages here are the ones the engine went through. Due times are not written on the event
that opens a stage: each visit's due time is counted from its entry by the rule the engine
uses (``stage_due_at``: the end of the Nth working day after entry, ``end_of_day`` local)
and then replaced by every due time the timeline records for that visit: a granted
extension (``due_on``), a calendar recomputation (``due_at``) and a fired ladder step past
the due time (``overdue_since``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from cases.deadlines.calendar import WorkingCalendar, end_of
from cases.metrics.events import DEADLINE_PREFIX, FILED, RECOMPUTED, SURVEY, Event
from cases.procedure.clock import local_date
from cases.procedure.machine import Branch, rule_for
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Action, AppealOutcome, Capacity, Stage

ACTIONS = {f"case.{a.value}": a for a in Action}


@dataclass
class Visit:
    """A stay in one stage: entered, due (None: the stage has none), left (None: still there)."""

    stage: Stage
    entered: datetime
    due: datetime | None
    left: datetime | None = None
    days: int | None = None  # working days it took, once left (``working_days``)
    dues: list[tuple[datetime, datetime | None]] = field(default_factory=list)  # (since, due)

    def set_due(self, since: datetime, due: datetime | None) -> None:
        """The due time from ``since`` on (the figures read the one in force at a moment)."""
        self.due = due
        self.dues.append((since, due))


@dataclass
class History:
    """What one case's timeline says, up to the events it was read from."""

    case_id: int
    unit_path: str
    visits: list[Visit] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    severity: str | None = None
    category: str | None = None
    findings: str | None = None  # the last findings submitted
    decision: str | None = None  # the disposition in force (None: none, or overturned)
    appeal_outcome: str | None = None
    finished_at: datetime | None = None  # closed after acceptance (close, appeal decided)
    triaged_at: datetime | None = None  # accepted or declined (when its category is known)
    investigators: set[str] = field(default_factory=set)  # handles ever assigned
    triaged_by: set[int] = field(default_factory=set)  # who accepted or declined it
    scores: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def decision_stands(self) -> bool:
        """False once an appeal overturned the decision (nothing then counts against anyone)."""
        return self.appeal_outcome != AppealOutcome.OVERTURN.value

    @property
    def stage(self) -> Stage | None:
        return self.visits[-1].stage if self.visits else None

    def stage_at(self, moment: datetime) -> Stage | None:
        """The stage the case was in at ``moment`` (None: not filed yet)."""
        current = None
        for visit in self.visits:
            if visit.entered <= moment:
                current = visit.stage
        return current


def working_days(calendar: WorkingCalendar, start: datetime, end: datetime) -> int:
    """Working days after ``start``'s local day up to and including ``end``'s (0: same day):
    the count a due time is set by, so a stage left on its due day took its allowance."""
    first, last = local_date(start), local_date(end)
    day, count = first, 0
    while day < last:
        day = date.fromordinal(day.toordinal() + 1)
        count += calendar.is_working_day(day)
    return count


class Days:
    """Due times and working-day counts already worked out, by day: a year's cases enter
    and leave stages on a few hundred days, so each count is made once per read."""

    def __init__(self, policy: Policy, calendar: WorkingCalendar) -> None:
        self.policy, self.calendar = policy, calendar
        self._due: dict[tuple[Stage, str | None, date], datetime | None] = {}
        self._took: dict[tuple[date, date], int] = {}

    def due(self, stage: Stage, severity: str | None, entered: datetime) -> datetime | None:
        """The end of the stage's allowance counted from ``entered`` (None: it has none)."""
        key = (stage, severity, local_date(entered))
        if key not in self._due:
            deadline = self.policy.deadlines.for_stage(stage)
            days = deadline.for_severity(severity) if deadline is not None else None
            self._due[key] = (
                None
                if days is None
                else end_of(self.calendar.add_working_days(key[2], days), self.policy.end_of_day)
            )
        return self._due[key]

    def took(self, start: datetime, end: datetime) -> int:
        """``working_days(start, end)``."""
        key = (local_date(start), local_date(end))
        if key not in self._took:
            self._took[key] = working_days(self.calendar, start, end)
        return self._took[key]


class _Reader:
    def __init__(self, history: History, policy: Policy, days: Days) -> None:
        self.history, self.policy, self.days = history, policy, days
        self.requires_cosign = False

    def enter(self, stage: Stage, at: datetime) -> None:
        visits = self.history.visits
        if visits:
            visits[-1].left = at
            visits[-1].days = self.days.took(visits[-1].entered, at)
        visits.append(Visit(stage, at, None))
        visits[-1].set_due(at, self.days.due(stage, self.history.severity, at))

    def read(self, event: Event) -> None:
        self.history.events.append(event)
        action = ACTIONS.get(event.action)
        if event.action == FILED:
            self.enter(Stage.INTAKE, event.at)
        elif action is not None:
            self.act(action, event)
        elif event.action == SURVEY:
            self.history.scores.append((event.at, int(event.data["score"])))
        else:
            self.recorded_due(event)

    def recorded_due(self, event: Event) -> None:
        """A due time the timeline records for the current visit replaces the counted one."""
        visit = self.history.visits[-1] if self.history.visits else None
        if visit is None or event.data.get("stage") != visit.stage.value:
            return
        if event.action == RECOMPUTED:
            visit.set_due(event.at, datetime.fromisoformat(event.data["due_at"]))
        elif event.action.startswith(DEADLINE_PREFIX) and event.data.get("overdue_since"):
            visit.set_due(event.at, datetime.fromisoformat(event.data["overdue_since"]))

    def act(self, action: Action, event: Event) -> None:
        self.note(action, event)
        stage = self.history.stage
        rule = rule_for(stage, action) if stage is not None else None
        target = rule.to if rule is not None else None
        if isinstance(target, Branch):  # the one branch: a co-signature still to come
            target = target.then if self.requires_cosign else target.otherwise
        if target is not None and target is not stage:  # a branch may stay where it is
            self.enter(target, event.at)
            if target is Stage.CLOSED and action is not Action.DECLINE:
                self.history.finished_at = event.at

    def note(self, action: Action, event: Event) -> None:
        """What the action tells about the case besides its stage."""
        history, data = self.history, event.data
        if action in (Action.ACCEPT, Action.DECLINE):
            history.triaged_at = event.at
            history.triaged_by |= {event.actor_id} if event.actor_id is not None else set()
            history.category = data.get("category", history.category)
            history.severity = data.get("severity", history.severity)
        assigned = {Action.ACCEPT: data.get("assigned", []), Action.ASSIGN: [data]}
        history.investigators |= {
            a["person"]
            for a in assigned.get(action, [])
            if a.get("capacity") == Capacity.INVESTIGATOR.value
        }
        if action is Action.SUBMIT_FINDINGS:
            history.findings = data["result"]
        elif action is Action.PROPOSE:
            self.requires_cosign = bool(data.get("requires_cosign"))
        elif action in (Action.SIGN_OFF, Action.CO_SIGN):
            history.decision = data.get("disposition")
        elif action is Action.DECIDE_APPEAL:
            history.appeal_outcome, history.decision = data["outcome"], data.get("decision")
        elif action is Action.GRANT_EXTENSION and history.visits:
            due_on = date.fromisoformat(data["due_on"])
            history.visits[-1].set_due(event.at, end_of(due_on, self.policy.end_of_day))


def read_history(
    events: Sequence[Event],
    *,
    policy: Policy,
    calendar: WorkingCalendar,
    days: Days | None = None,
) -> History:
    """The history of the one case ``events`` (in chain order) belong to (``days``: counts
    shared with the other cases of one read)."""
    history = History(case_id=events[0].case_id, unit_path=events[0].unit_path)
    reader = _Reader(history, policy, days or Days(policy, calendar))
    for event in events:
        reader.read(event)
    return history

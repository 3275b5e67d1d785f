"""The figures' projection: each case's timeline as rows the 述职 figures sum in SQL.

Written by cases.metrics.projection from the case's audit chain (never edited by hand);
``figure_dirty`` holds the cases whose chain moved since (every append marks its case in
the same transaction), ``figure_basis`` the policy and calendar the rows were counted by.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, Session, SQLModel

from cases.store.db import core, upsert


class FigureCase(SQLModel, table=True):
    """A case's outcome: when filed, triaged (its category known), finished and first
    rated, and how it ended."""

    __tablename__ = "figure_case"
    # Each index holds every column its query reads: a year is one range of one index.
    __table_args__ = (
        Index("ix_figure_case_filed", "filed_at", "unit_id", "category", "triaged_at"),
        Index(
            "ix_figure_case_finished",
            *("finished_at", "unit_id", "findings", "decision", "appeal_outcome", "rated_at"),
        ),
    )
    case_id: int = Field(foreign_key="conduct_case.id", primary_key=True)
    unit_id: int  # the case's unit (set at filing, never changed): no join to sum by unit
    filed_at: datetime
    triaged_at: datetime | None = None
    category: str | None = Field(default=None, max_length=40)
    finished_at: datetime | None = None
    findings: str | None = Field(default=None, max_length=40)
    decision: str | None = Field(default=None, max_length=40)
    appeal_outcome: str | None = Field(default=None, max_length=20)
    rated_at: datetime | None = None  # the reporter's first rating


class FigureVisit(SQLModel, table=True):
    """The ``n``-th stay of a case, in a staff stage (the only ones a figure reads):
    entered, left (None: still there), its final due time, and the working days and the
    seconds it took."""

    __tablename__ = "figure_visit"
    __table_args__ = (
        # The stays left in a window, and (left_at NULL) those still open.
        Index(
            "ix_figure_visit_left_open",
            *("left_at", "entered_at", "unit_id", "stage", "days", "due_at", "case_id", "n"),
        ),
        # The stays open at a moment are found among those entered at most the longest
        # stay (``seconds``' maximum) before it, and those still open (left_at NULL).
        Index(
            "ix_figure_visit_entered",
            *("entered_at", "left_at", "unit_id", "stage", "case_id", "n"),
        ),
        Index("ix_figure_visit_seconds", "seconds"),
    )
    case_id: int = Field(foreign_key="conduct_case.id", primary_key=True)
    n: int = Field(primary_key=True)
    unit_id: int
    stage: str = Field(max_length=20)
    entered_at: datetime
    left_at: datetime | None = None
    due_at: datetime | None = None
    days: int | None = None
    seconds: int | None = None  # left_at - entered_at, once left


class FigureDue(SQLModel, table=True):
    """A visit's due time from ``since`` on: the one in force at a moment is the latest."""

    __tablename__ = "figure_due"
    case_id: int = Field(foreign_key="conduct_case.id", primary_key=True)
    n: int = Field(primary_key=True)
    k: int = Field(primary_key=True)
    since: datetime
    due_at: datetime | None = None


class FigureEvent(SQLModel, table=True):
    """An event a figure counts (a staff action, a rating), with what it says (``detail``:
    an appeal's outcome, a rating's score)."""

    __tablename__ = "figure_event"
    __table_args__ = (Index("ix_figure_event_counted", "at", "unit_id", "kind", "detail"),)
    case_id: int = Field(foreign_key="conduct_case.id", primary_key=True)
    seq: int = Field(primary_key=True)
    unit_id: int
    kind: str = Field(max_length=40)
    at: datetime
    detail: str | None = Field(default=None, max_length=40)


class FigureEventMonth(SQLModel, table=True):
    """The counted events of one month (Asia/Shanghai, 'YYYY-MM') by unit, kind and
    detail: what a report sums for the months its period holds whole."""

    __tablename__ = "figure_event_month"
    month: str = Field(primary_key=True, max_length=7)
    unit_id: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=40)
    detail: str = Field(primary_key=True, max_length=40)  # "" for none (a key is never NULL)
    count: int


class FigureLeftMonth(SQLModel, table=True):
    """The staff stays left in one month by unit, stage, working days and whether on time."""

    __tablename__ = "figure_left_month"
    month: str = Field(primary_key=True, max_length=7)
    unit_id: int = Field(primary_key=True)
    stage: str = Field(primary_key=True, max_length=20)
    days: int = Field(primary_key=True)  # NO_DAYS for none
    on_time: bool = Field(primary_key=True)
    count: int


NO_DAYS = -1


class FigureDirty(SQLModel, table=True):
    """A case whose chain moved since its rows were written."""

    __tablename__ = "figure_dirty"
    case_id: int = Field(primary_key=True)


class FigureBasis(SQLModel, table=True):
    """What the rows were counted by (a digest of the deadlines policy and the calendar)."""

    __tablename__ = "figure_basis"
    id: int = Field(default=1, primary_key=True)
    digest: str = Field(max_length=64)
    counted_at: datetime


PROJECTION = (FigureCase, FigureVisit, FigureDue, FigureEvent)
MONTHLY = (FigureEventMonth, FigureLeftMonth)  # sums of the rows, kept with them


def mark_dirty(session: Session, case_ids: set[int]) -> None:
    """Note in this transaction that these cases' rows are to be written again."""
    if not case_ids:
        return
    # An update, not "do nothing": it locks a mark already there, so a refresher taking
    # that mark waits for this transaction and then reads its events. In case order, as
    # the refresher takes them, so the two never wait on each other in a circle.
    statement = upsert(session, FigureDirty, ["case_id"], lambda _, new: {"case_id": new.case_id})
    core(session).execute(statement, [{"case_id": case_id} for case_id in sorted(case_ids)])

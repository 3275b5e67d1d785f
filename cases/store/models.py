"""SQLModel tables: the truth about units, people, cases, their records, audit and seams.

Portable SQL only (SQLite and PostgreSQL). Times are aware UTC (SQLModel's UTCDateTime
stores them as UTC on SQLite and as timestamptz on PostgreSQL).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Column, Index, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from cases.procedure.vocabulary import StatementState

# The states of the rows below are StrEnums kept in plain string columns: a member equals
# its string, so stored values (and the schema) are what they were.


class Unit(SQLModel, table=True):
    """An organisation unit; ``path`` ('/1/4/') makes 'this unit and all below it' a prefix."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=64)
    name_zh: str
    name_en: str
    parent_id: int | None = Field(default=None, foreign_key="unit.id")
    path: str = Field(default="", index=True, max_length=512)

    def lineage(self) -> list[int]:
        """The ids of this unit and every unit above it (read from ``path``)."""
        return [int(part) for part in self.path.strip("/").split("/") if part]


class Person(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(unique=True, max_length=64)
    name: str
    email: str | None = None
    phone: str | None = None
    language: str = Field(default="zh-CN", max_length=8)
    unit_id: int | None = Field(default=None, foreign_key="unit.id", index=True)
    active: bool = True
    created_at: datetime


class RoleGrant(SQLModel, table=True):
    """A role held in a unit; scope is the unit and everything under it."""

    __table_args__ = (UniqueConstraint("person_id", "role", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=20)
    unit_id: int = Field(foreign_key="unit.id")


class Relationship(SQLModel, table=True):
    """A declared relationship between two people (roommates, relatives, ...); blocks assignment."""

    __table_args__ = (UniqueConstraint("person_id", "other_id"),)
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    other_id: int = Field(foreign_key="person.id", index=True)
    kind: str = Field(max_length=40)
    declared_at: datetime


class ApiToken(SQLModel, table=True):
    """A personal access token; only the SHA-256 of the secret is kept."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True, max_length=16)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=80)
    secret_hash: str = Field(unique=True, max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class ReferenceCounter(SQLModel, table=True):
    """The running number behind QF-<year>-<number>."""

    year: int = Field(primary_key=True)
    last: int = 0


class ConductCase(SQLModel, table=True):
    __tablename__ = "conduct_case"
    __table_args__ = (
        Index("ix_case_stage_unit", "stage", "unit_id"),
        Index("ix_case_subject_category", "subject_id", "category"),
        Index("ix_case_unit_id_id", "unit_id", "id"),
        Index("ix_case_filed_id", "filed_at", "id"),  # PostgreSQL's index holds no id
    )
    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(unique=True, max_length=20)
    version: int = 1
    stage: str = Field(max_length=20)
    stage_entry: int = 1
    stage_entered_at: datetime
    due_at: datetime | None = None
    unit_id: int = Field(foreign_key="unit.id", index=True)
    subject_id: int = Field(foreign_key="person.id")
    reporter_id: int | None = Field(default=None, foreign_key="person.id")
    anonymous: bool = True
    reporter_name: str | None = None
    reporter_contact: str | None = None
    receipt_hash: str
    # HMAC-SHA256 of the normalised receipt code under the server secret: finds the case for
    # the reporter's status page without a scan; the Argon2 hash above still decides.
    receipt_lookup: str | None = Field(default=None, unique=True, index=True, max_length=64)
    summary: str = Field(max_length=200)
    details: str = Field(sa_column=Column(Text, nullable=False))
    allegations: str | None = Field(default=None, sa_column=Column(Text))  # staff's summary
    category: str | None = Field(default=None, max_length=40)
    severity: str | None = Field(default=None, max_length=40)
    filed_at: datetime
    decline_reason: str | None = None
    duplicate_of: str | None = None
    statement_state: str = StatementState.PENDING
    statement_due_at: datetime | None = None
    statement_text: str | None = Field(default=None, sa_column=Column(Text))
    findings_result: str | None = None
    findings_summary: str | None = Field(default=None, sa_column=Column(Text))
    recommended_disposition: str | None = None
    returns_count: int = 0
    proposed_disposition: str | None = None
    proposal_rationale: str | None = Field(default=None, sa_column=Column(Text))
    advisor_signed_by: int | None = Field(default=None, foreign_key="person.id")
    cosigned_by: int | None = Field(default=None, foreign_key="person.id")
    decision: str | None = None
    decided_at: datetime | None = None
    appeal_window_ends_at: datetime | None = None
    appeal_grounds: str | None = Field(default=None, sa_column=Column(Text))
    appeal_outcome: str | None = None
    closed_at: datetime | None = None
    # Set by fired deadline steps (not by staff, so they do not move the version/ETag).
    overdue: bool = False
    escalation: str | None = Field(default=None, max_length=40)
    flag: str | None = Field(default=None, max_length=12)
    # Extensions of the current stage: granted count and the one pending request, if any
    # (its requester is kept here for the guards).
    extensions_granted: int = 0
    extension_requested_by: int | None = Field(default=None, foreign_key="person.id")
    extension_requested_due_on: date | None = None
    # Ladders written in the current stage (its entry, each granted extension, each
    # recomputation after a calendar change): the next ladder's revision.
    ladders_written: int = 0
    # Written at filing (the reporter's category, triage) and by the stage flow (the case
    # file's digest): automation, not staff, so the version does not move.
    reported_category: str | None = Field(default=None, max_length=40)
    # What the reporter said beside the summary: the subject's post, when and where.
    subject_post: str | None = Field(default=None, max_length=200)
    occurred: str | None = Field(default=None, max_length=200)
    place: str | None = Field(default=None, max_length=200)
    possible_duplicate_of: str | None = Field(default=None, max_length=20)
    missing_information: str | None = None  # comma-separated codes, '' when complete
    case_file_sha256: str | None = Field(default=None, max_length=64)


class CaseParty(SQLModel, table=True):
    """A person's part in a case: reporter, subject, assignment or an act (triage, co-sign)."""

    __tablename__ = "case_party"
    __table_args__ = (
        UniqueConstraint("case_id", "person_id", "capacity"),
        # The list's assignee filter reads only these: is the part theirs, and active
        # (per case); which cases they hold (per person, up to a count).
        Index("ix_case_party_held", "case_id", "person_id", "capacity", "active"),
        Index("ix_case_party_holder", "person_id", "case_id", "capacity", "active"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    person_id: int = Field(foreign_key="person.id")  # indexed first in ix_case_party_holder
    capacity: str = Field(max_length=20)
    active: bool = True
    since: datetime
    assigned_by: int | None = Field(default=None, foreign_key="person.id")
    override_reason: str | None = None


class Evidence(SQLModel, table=True):
    """An item of evidence; with a file, the stored copy in data_dir/evidence/<case id>/.

    ``sha256`` is the stored copy's; ``original_sha256`` that of the file as sent (they
    differ when location and camera metadata were stripped from an anonymous report's image).
    An item the reporter added has no ``recorded_by``: they are known by the receipt code.
    """

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    description: str
    filename: str | None = None
    sha256: str = Field(max_length=64)
    stored_name: str | None = Field(default=None, max_length=64)
    media_type: str | None = Field(default=None, max_length=100)
    size_bytes: int | None = None
    original_sha256: str | None = Field(default=None, max_length=64)
    collected_on: str | None = Field(default=None, max_length=10)  # ISO date
    recorded_by: int | None = Field(default=None, foreign_key="person.id")  # None: the reporter
    from_reporter: bool = False  # added by the reporter from the status page
    recorded_at: datetime


class Interview(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    interviewee: str
    summary: str = Field(sa_column=Column(Text, nullable=False))
    held_on: str = Field(max_length=10)
    recorded_by: int = Field(foreign_key="person.id")
    recorded_at: datetime


class StepState(StrEnum):
    """Where a deadline step stands."""

    PENDING = "pending"
    FIRED = "fired"  # recorded, and its notices (or the appeal window's close) done
    SKIPPED = "skipped"  # a reminder that fell due after the due time itself: not sent
    CANCELLED = "cancelled"  # its stage was left, or its due time moved, before it fell due


class Deadline(SQLModel, table=True):
    """One step of a stage's deadline (due, reminder, escalation); fired by the deadline worker."""

    __table_args__ = (
        UniqueConstraint(
            "case_id",
            "stage_entry",
            "revision",
            "step",
            name="uq_deadline_case_stage_revision_step",
        ),
        Index("ix_deadline_state_due", "state", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    stage: str = Field(max_length=20)
    stage_entry: int
    revision: int = 0  # the stage's ladder it belongs to; older ones' pending steps are cancelled
    step: str = Field(max_length=40)
    due_at: datetime
    state: str = Field(default=StepState.PENDING, max_length=12)
    fired_at: datetime | None = None


class ExtensionState(StrEnum):
    """Where a request for more time stands."""

    PENDING = "pending"  # waiting for the secretary
    GRANTED = "granted"
    REFUSED = "refused"
    LAPSED = "lapsed"  # its stage was left before the secretary decided


class DeadlineExtension(SQLModel, table=True):
    """An assignee's request for more time in a stage, and the secretary's decision on it."""

    __tablename__ = "deadline_extension"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="conduct_case.id", index=True)
    stage: str = Field(max_length=20)
    stage_entry: int
    requested_by: int = Field(foreign_key="person.id")
    requested_at: datetime
    reason: str = Field(sa_column=Column(Text, nullable=False))
    requested_due_on: date
    previous_due_at: datetime
    state: str = Field(default=ExtensionState.PENDING, max_length=12)
    decided_by: int | None = Field(default=None, foreign_key="person.id")
    decided_at: datetime | None = None
    granted_due_on: date | None = None
    decision_note: str | None = Field(default=None, sa_column=Column(Text))


class OutboxState(StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"  # due at ``available_at``
    SENDING = "sending"  # claimed by a worker until ``available_at`` (its lease)
    STARTED = "started"  # its Prefect run was created and has not finished yet
    DONE = "done"
    DEAD = "dead"  # gave up: its attempts ran out, or its run failed


class OutboxRow(SQLModel, table=True):
    """Work that leaves the process (notifications, stage flow runs), written with the change."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_available", "state", "available_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    topic: str = Field(max_length=40)
    case_id: int | None = Field(default=None, foreign_key="conduct_case.id", index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=OutboxState.PENDING, max_length=12)
    attempts: int = 0
    created_at: datetime
    available_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None
    external_id: str | None = Field(default=None, max_length=64)  # e.g. the Prefect flow run
    # stage_flow rows: the `case-stage` deployment (one per Prefect server) that took it
    claimed_by: str | None = Field(default=None, max_length=64)


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained per chain ('case:<id>' or 'system')."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    chain: str = Field(max_length=40)
    seq: int
    case_id: int | None = Field(default=None, index=True)
    at: datetime
    actor_id: int | None = None
    action: str = Field(max_length=40)
    data: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    __tablename__ = "audit_chain_head"
    chain: str = Field(primary_key=True, max_length=40)
    seq: int
    hash: str = Field(max_length=64)
    checkpointed_seq: int = 0
    # Set by every append, cleared by the checkpoint: an indexed flag, so a checkpoint
    # reads the chains that moved instead of scanning every chain.
    pending_checkpoint: bool = Field(default=True, index=True)


class AuditCheckpoint(SQLModel, table=True):
    """A global chain over the heads of case chains that moved since the previous checkpoint."""

    __tablename__ = "audit_checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    heads: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("principal", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(max_length=40)
    key: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime


class _Stored(Protocol):
    id: int | None


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, for statements that skip the ORM's bookkeeping."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by table=True
    return table


def pk(row: _Stored) -> int:
    """The primary key of a row that has been flushed (so it has one)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has not been flushed yet")
    return row.id

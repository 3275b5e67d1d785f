"""Commands: the validated input of each staff action (also the API request bodies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, BinaryIO, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    model_validator,
)

from cases.procedure.clock import local_date, utcnow
from cases.procedure.text import Handle, MultiLine, SingleLine, UnixNewlines
from cases.procedure.vocabulary import Action, AppealOutcome, Capacity, FindingsResult

Text = Annotated[
    str,
    UnixNewlines,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
    MultiLine,
]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), SingleLine
]

# Horizons of the days a command may name (calendar days, Asia/Shanghai). Constants for
# now; they belong in the policy (extensions.max_ahead_days, records.earliest_day).
EARLIEST_DAY = date(2000, 1, 1)  # no interview, item or deadline before this day
MAX_DAYS_AHEAD = 5 * 366  # a due day asked for or granted is at most this far ahead


def _not_in_future(day: date) -> date:
    if day > local_date(utcnow()):
        raise ValueError("must not be in the future (Asia/Shanghai)")
    if day < EARLIEST_DAY:
        raise ValueError(f"must not be before {EARLIEST_DAY.isoformat()}")
    return day


def _within_horizon(day: date) -> date:
    last = local_date(utcnow()) + timedelta(days=MAX_DAYS_AHEAD)
    if day > last:
        raise ValueError(f"must be on or before {last.isoformat()} ({MAX_DAYS_AHEAD} days ahead)")
    if day < EARLIEST_DAY:
        raise ValueError(f"must not be before {EARLIEST_DAY.isoformat()}")
    return day


PastDate = Annotated[date, AfterValidator(_not_in_future)]
DueDate = Annotated[date, AfterValidator(_within_horizon)]
Reasons = Annotated[
    list[Text], Field(min_length=1, max_length=20, description="One or more reasons.")
]


class Command(BaseModel):
    """A staff action's input. ``action`` is the class's, not a field: the URL names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    action: ClassVar[Action]


class FileReport(BaseModel):
    """A report as the reporter files it (not a staff action: it creates the case)."""

    model_config = ConfigDict(extra="forbid")
    unit: Code = Field(description="Code of the subject's organisation unit.")
    subject_handle: Handle | None = Field(
        default=None,
        description="Student/staff number or handle of the subject, if the reporter knows it; "
        "without it the subject is the only person of that name in the unit, or a new entry.",
    )
    subject_name: Short
    subject_post: Short | None = Field(default=None, description="The subject's post (职务).")
    summary: Short
    details: Text
    occurred: Short | None = Field(default=None, description="When it happened, in words.")
    place: Short | None = Field(default=None, description="Where it happened.")
    category: Code | None = Field(
        default=None, description="The reporter's choice from the policy's categories, if any."
    )
    anonymous: StrictBool = Field(
        default=True, description="Hide the reporter's identity from staff (true or false)."
    )
    reporter_name: Short | None = None
    reporter_contact: Short | None = None


class Accept(Command):
    action: ClassVar[Action] = Action.ACCEPT
    category: Code
    severity: Code
    investigators: list[Handle] = Field(min_length=1, max_length=5)
    allegations: Text | None = Field(
        default=None,
        description="The allegations as staff summarise them: what the subject is shown "
        "(not the report's own words). The category's label when left out.",
    )
    override_reason: Short | None = Field(
        default=None, description="Secretary only: reason to assign despite a conflict of interest."
    )


class Decline(Command):
    action: ClassVar[Action] = Action.DECLINE
    reason: Literal["out_of_scope", "duplicate", "insufficient_information"]
    explanation: Text
    duplicate_of: Short | None = Field(
        default=None,
        description="The case this one repeats (reason 'duplicate'); triage's possible "
        "duplicate when left out.",
    )


class Assign(Command):
    action: ClassVar[Action] = Action.ASSIGN
    capacity: Literal[
        Capacity.INVESTIGATOR, Capacity.VERIFIER, Capacity.ADVISOR, Capacity.APPEAL_REVIEWER
    ]
    person: Handle
    override_reason: Short | None = None


@dataclass(frozen=True)
class Attachment:
    """A file sent with a command, and the directory the evidence store keeps files in.
    Only cases.evidence_files reads ``content`` (in chunks); the procedure does no I/O."""

    content: BinaryIO
    store: Path


class RecordEvidence(Command):
    action: ClassVar[Action] = Action.RECORD_EVIDENCE
    description: Text
    filename: Short | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        default=None,
        description="SHA-256 of the item. With a file: optional, the server computes it "
        "(a different one given is 422). Without a file: required.",
    )
    collected_on: PastDate | None = Field(
        default=None, description="When the item was obtained (not in the future)."
    )
    _attachment: Attachment | None = PrivateAttr(default=None)

    @property
    def attachment(self) -> Attachment | None:
        return self._attachment

    def with_file(self, attachment: Attachment) -> RecordEvidence:
        """This command with the uploaded file to store (not part of the JSON body)."""
        sent = self.model_copy()
        sent._attachment = attachment
        return sent


class RecordInterview(Command):
    action: ClassVar[Action] = Action.RECORD_INTERVIEW
    interviewee: Short
    summary: Text
    held_on: PastDate = Field(description="The day of the interview (not in the future).")


class RecordStatement(Command):
    action: ClassVar[Action] = Action.RECORD_STATEMENT
    max_files: ClassVar[int] = 3  # files the subject may attach (each an item of evidence)
    statement: Text
    _files: tuple[tuple[str | None, Attachment], ...] = PrivateAttr(default=())

    @property
    def attachments(self) -> tuple[tuple[str | None, Attachment], ...]:
        """The files sent with the statement, each with its name as sent (or None)."""
        return self._files

    def with_files(self, files: list[tuple[str | None, Attachment]]) -> RecordStatement:
        """This statement with the files to store as its attachments (not in the JSON body)."""
        sent = self.model_copy()
        sent._files = tuple(files)
        return sent


class WaiveStatement(Command):
    action: ClassVar[Action] = Action.WAIVE_STATEMENT
    note: Text


class SubmitFindings(Command):
    action: ClassVar[Action] = Action.SUBMIT_FINDINGS
    result: FindingsResult
    summary: Text
    recommended_disposition: Code


class Confirm(Command):
    action: ClassVar[Action] = Action.CONFIRM
    comment: Text | None = None


class ReturnFindings(Command):
    action: ClassVar[Action] = Action.RETURN_FINDINGS
    reasons: Reasons


class Propose(Command):
    action: ClassVar[Action] = Action.PROPOSE
    disposition: Code
    rationale: Text


class SignOff(Command):
    action: ClassVar[Action] = Action.SIGN_OFF
    comment: Text | None = None


class Refuse(Command):
    action: ClassVar[Action] = Action.REFUSE
    comments: Text


class CoSign(Command):
    action: ClassVar[Action] = Action.CO_SIGN
    comment: Text | None = None


class Appeal(Command):
    action: ClassVar[Action] = Action.APPEAL
    grounds: Text


class DecideAppeal(Command):
    action: ClassVar[Action] = Action.DECIDE_APPEAL
    outcome: AppealOutcome
    reasons: Reasons
    disposition: Code | None = Field(default=None, description="The new disposition ('change').")

    @model_validator(mode="after")
    def _change_names_disposition(self) -> DecideAppeal:
        if self.outcome is AppealOutcome.CHANGE and not self.disposition:
            raise ValueError("disposition is required when the outcome is 'change'")
        return self


class Close(Command):
    action: ClassVar[Action] = Action.CLOSE
    note: Text | None = None


class RequestExtension(Command):
    action: ClassVar[Action] = Action.REQUEST_EXTENSION
    reason: Text
    due_on: DueDate = Field(description="The working day (Asia/Shanghai) the stage should be due.")


class GrantExtension(Command):
    action: ClassVar[Action] = Action.GRANT_EXTENSION
    due_on: DueDate | None = Field(
        default=None, description="The new due day; the day asked for when left out."
    )
    note: Text | None = None


class RefuseExtension(Command):
    action: ClassVar[Action] = Action.REFUSE_EXTENSION
    reason: Text


COMMANDS: dict[Action, type[Command]] = {
    c.action: c
    for c in (
        Accept,
        Decline,
        Assign,
        RecordEvidence,
        RecordInterview,
        RecordStatement,
        WaiveStatement,
        SubmitFindings,
        Confirm,
        ReturnFindings,
        Propose,
        SignOff,
        Refuse,
        CoSign,
        Appeal,
        DecideAppeal,
        Close,
        RequestExtension,
        GrantExtension,
        RefuseExtension,
    )
}

"""Commands: the validated input of each staff action (also the API request bodies)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cases.vocabulary import Action, AppealOutcome, Capacity, FindingsResult

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Handle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    action: Action


class FileReport(BaseModel):
    """A report as the reporter files it (not a staff action: it creates the case)."""

    model_config = ConfigDict(extra="forbid")
    unit: Code = Field(description="Code of the subject's organisation unit.")
    subject_handle: Handle = Field(description="Student/staff number or handle of the subject.")
    subject_name: Short
    summary: Short
    details: Text
    category: Code | None = Field(
        default=None, description="The reporter's choice from the policy's categories, if any."
    )
    anonymous: bool = Field(default=True, description="Hide the reporter's identity from staff.")
    reporter_name: Short | None = None
    reporter_contact: Short | None = None


class Accept(Command):
    action: Literal[Action.ACCEPT] = Action.ACCEPT
    category: Code
    severity: Code
    investigators: list[Handle] = Field(min_length=1, max_length=5)
    override_reason: Short | None = Field(
        default=None, description="Secretary only: reason to assign despite a conflict of interest."
    )


class Decline(Command):
    action: Literal[Action.DECLINE] = Action.DECLINE
    reason: Literal["out_of_scope", "duplicate", "insufficient_information"]
    explanation: Text
    duplicate_of: Short | None = None

    @model_validator(mode="after")
    def _duplicate_names_case(self) -> Decline:
        if self.reason == "duplicate" and not self.duplicate_of:
            raise ValueError("duplicate_of is required when the reason is 'duplicate'")
        return self


class Assign(Command):
    action: Literal[Action.ASSIGN] = Action.ASSIGN
    capacity: Literal[
        Capacity.INVESTIGATOR, Capacity.VERIFIER, Capacity.ADVISOR, Capacity.APPEAL_REVIEWER
    ]
    person: Handle
    override_reason: Short | None = None


class RecordEvidence(Command):
    action: Literal[Action.RECORD_EVIDENCE] = Action.RECORD_EVIDENCE
    description: Text
    filename: Short | None = None
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class RecordInterview(Command):
    action: Literal[Action.RECORD_INTERVIEW] = Action.RECORD_INTERVIEW
    interviewee: Short
    summary: Text
    held_on: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class RecordStatement(Command):
    action: Literal[Action.RECORD_STATEMENT] = Action.RECORD_STATEMENT
    statement: Text


class WaiveStatement(Command):
    action: Literal[Action.WAIVE_STATEMENT] = Action.WAIVE_STATEMENT
    note: Text


class SubmitFindings(Command):
    action: Literal[Action.SUBMIT_FINDINGS] = Action.SUBMIT_FINDINGS
    result: FindingsResult
    summary: Text
    recommended_disposition: Code


class Confirm(Command):
    action: Literal[Action.CONFIRM] = Action.CONFIRM
    comment: Text | None = None


class Return(Command):
    action: Literal[Action.RETURN] = Action.RETURN
    reasons: list[Text] = Field(default_factory=list, max_length=20)


class Propose(Command):
    action: Literal[Action.PROPOSE] = Action.PROPOSE
    disposition: Code
    rationale: Text


class SignOff(Command):
    action: Literal[Action.SIGN_OFF] = Action.SIGN_OFF
    comment: Text | None = None


class Refuse(Command):
    action: Literal[Action.REFUSE] = Action.REFUSE
    comments: Text


class CoSign(Command):
    action: Literal[Action.CO_SIGN] = Action.CO_SIGN
    comment: Text | None = None


class Appeal(Command):
    action: Literal[Action.APPEAL] = Action.APPEAL
    grounds: Text


class DecideAppeal(Command):
    action: Literal[Action.DECIDE_APPEAL] = Action.DECIDE_APPEAL
    outcome: AppealOutcome
    reasons: Text
    disposition: Code | None = Field(default=None, description="The new disposition ('change').")

    @model_validator(mode="after")
    def _change_names_disposition(self) -> DecideAppeal:
        if self.outcome is AppealOutcome.CHANGE and not self.disposition:
            raise ValueError("disposition is required when the outcome is 'change'")
        return self


class Close(Command):
    action: Literal[Action.CLOSE] = Action.CLOSE
    note: Text | None = None


class RequestExtension(Command):
    action: Literal[Action.REQUEST_EXTENSION] = Action.REQUEST_EXTENSION
    reason: Text
    due_on: date = Field(description="The working day (Asia/Shanghai) the stage should be due.")


class GrantExtension(Command):
    action: Literal[Action.GRANT_EXTENSION] = Action.GRANT_EXTENSION
    due_on: date | None = Field(
        default=None, description="The new due day; the day asked for when left out."
    )
    note: Text | None = None


class RefuseExtension(Command):
    action: Literal[Action.REFUSE_EXTENSION] = Action.REFUSE_EXTENSION
    reason: Text


COMMANDS: dict[Action, type[Command]] = {
    c.model_fields["action"].default: c
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
        Return,
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

"""The words of the domain: stages, actions, roles, capacities on a case."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    INTAKE = "intake"
    INVESTIGATION = "investigation"
    VERIFICATION = "verification"
    DISPOSITION = "disposition"
    APPEAL_WINDOW = "appeal_window"
    APPEAL_REVIEW = "appeal_review"
    CLOSED = "closed"


class Action(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    ASSIGN = "assign"
    RECORD_EVIDENCE = "record_evidence"
    RECORD_INTERVIEW = "record_interview"
    RECORD_STATEMENT = "record_statement"
    WAIVE_STATEMENT = "waive_statement"
    SUBMIT_FINDINGS = "submit_findings"
    CONFIRM = "confirm"
    RETURN_FINDINGS = "return_findings"
    PROPOSE = "propose"
    SIGN_OFF = "sign_off"
    REFUSE = "refuse"
    CO_SIGN = "co_sign"
    APPEAL = "appeal"
    DECIDE_APPEAL = "decide_appeal"
    CLOSE = "close"
    REQUEST_EXTENSION = "request_extension"
    GRANT_EXTENSION = "grant_extension"
    REFUSE_EXTENSION = "refuse_extension"


class Role(StrEnum):
    """Roles a person holds in an organisation unit (and everything under it)."""

    REPORTER = "reporter"
    INVESTIGATOR = "investigator"
    VERIFIER = "verifier"
    ADVISOR = "advisor"
    SECRETARY = "secretary"
    ADMIN = "admin"
    SUBJECT = "subject"


class Capacity(StrEnum):
    """How a person takes part in one case (assignment or act)."""

    REPORTER = "reporter"
    SUBJECT = "subject"
    TRIAGE = "triage"
    INVESTIGATOR = "investigator"
    VERIFIER = "verifier"
    ADVISOR = "advisor"
    COSIGNER = "cosigner"
    APPEAL_REVIEWER = "appeal_reviewer"


PARTIES = frozenset({Capacity.REPORTER, Capacity.SUBJECT})  # never handle their own case

ASSIGNABLE = (
    Capacity.INVESTIGATOR,
    Capacity.VERIFIER,
    Capacity.ADVISOR,
    Capacity.APPEAL_REVIEWER,
)

STAFF_ROLES = frozenset({Role.INVESTIGATOR, Role.VERIFIER, Role.ADVISOR, Role.SECRETARY})

# Who may accept or decline a unit's reports (the ``triage`` rule), over the case's unit.
TRIAGE_ROLES = (Role.INVESTIGATOR, Role.SECRETARY)

# Stages where staff owe work: extensions (延期) may be asked and the deadline ladder runs.
# The appeal window is the subject's right: not extended, and one step of its own that
# closes the case instead of a ladder.
STAFF_STAGES = (
    Stage.INTAKE,
    Stage.INVESTIGATION,
    Stage.VERIFICATION,
    Stage.DISPOSITION,
    Stage.APPEAL_REVIEW,
)


class FindingsResult(StrEnum):
    SUBSTANTIATED = "substantiated"
    PARTLY_SUBSTANTIATED = "partly_substantiated"
    UNSUBSTANTIATED = "unsubstantiated"


class AppealOutcome(StrEnum):
    UPHOLD = "uphold"
    CHANGE = "change"
    OVERTURN = "overturn"


class StatementState(StrEnum):
    PENDING = "pending"
    RECORDED = "recorded"
    WAIVED = "waived"

"""The actor predicates (``Who``), guards and branch conditions the TRANSITIONS table names.

Each is an object defined once here and referenced by the table; its ``name`` is what
refusals and the audit trail say (``who``, ``guard`` or ``rule``). A guard's check returns
None when it holds, or the reason it does not; separation-of-duties guards surface as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cases.procedure.context import ActionContext
from cases.procedure.vocabulary import (
    ASSIGNABLE,
    TRIAGE_ROLES,
    Capacity,
    Role,
    Stage,
    StatementState,
)

Check = Callable[[ActionContext], bool]
Reason = Callable[[ActionContext], str | None]


@dataclass(frozen=True)
class Who:
    """Who may take an action: ``text`` completes "may only be done by ..."."""

    name: str
    text: str
    test: Check

    def __call__(self, ctx: ActionContext) -> bool:
        return self.test(ctx)


@dataclass(frozen=True)
class Guard:
    """A condition the case must meet; ``check`` gives the reason it does not, or None."""

    name: str
    check: Reason
    separation_of_duties: bool = False

    def __call__(self, ctx: ActionContext) -> str | None:
        return self.check(ctx)


@dataclass(frozen=True)
class Condition:
    """A named test of the case that decides a Branch of the table."""

    name: str
    test: Check

    def __call__(self, ctx: ActionContext) -> bool:
        return self.test(ctx)


def _triager(c: ActionContext) -> bool:
    return any(c.has_role(role) for role in TRIAGE_ROLES)


def _advisor(c: ActionContext) -> bool:
    if c.anyone_holds(Capacity.ADVISOR):
        return c.holds(Capacity.ADVISOR)
    return c.has_role(Role.ADVISOR)


def _awaits_cosign(c: ActionContext) -> bool:
    return (
        c.case.proposed_disposition is not None
        and c.case.advisor_signed_by is not None
        and c.case.cosigned_by is None
        and c.requires_cosign()
    )


def _assignee(c: ActionContext) -> bool:
    if c.case.stage == Stage.INTAKE:  # nobody is assigned before acceptance: triage owns it
        return _triager(c)
    return any(c.holds(capacity) for capacity in ASSIGNABLE)


def _handled(c: ActionContext, *capacities: Capacity) -> bool:
    wanted = {cap.value for cap in capacities}
    return bool(c.capacities(c.actor.id) & wanted)


def _refuse_when(broken: Check, reason: str) -> Reason:
    """A guard's check: ``reason`` when ``broken`` holds for the case, otherwise None."""
    return lambda c: reason if broken(c) else None


def _signer_took_no_part(name: str, signer: str) -> Guard:
    """Separation of duties: whoever signs a decision did not investigate or verify it."""
    return Guard(
        name,
        _refuse_when(
            lambda c: _handled(c, Capacity.INVESTIGATOR, Capacity.VERIFIER),
            f"{signer} may not be an investigator or verifier of the case",
        ),
        separation_of_duties=True,
    )


# Who may act.
TRIAGE = Who("triage", "an investigator or the secretary responsible for the unit", _triager)
CASE_ASSIGNEE = Who(
    "case_assignee",
    "a person assigned to the case (at intake: an investigator or the secretary)",
    _assignee,
)
SECRETARY = Who("secretary", "the committee secretary", lambda c: c.has_role(Role.SECRETARY))
CASE_INVESTIGATOR = Who(
    "case_investigator",
    "an investigator assigned to the case",
    lambda c: c.holds(Capacity.INVESTIGATOR),
)
CASE_VERIFIER = Who(
    "case_verifier", "the verifier assigned to the case", lambda c: c.holds(Capacity.VERIFIER)
)
CASE_ADVISOR = Who("case_advisor", "the advisor of the subject's organisation", _advisor)
CASE_SUBJECT = Who(
    "case_subject", "the subject of the case", lambda c: c.actor.id == c.case.subject_id
)
INVESTIGATOR_OR_SUBJECT = Who(
    "investigator_or_subject",
    "an assigned investigator or the subject",
    lambda c: c.holds(Capacity.INVESTIGATOR) or c.actor.id == c.case.subject_id,
)
INVESTIGATOR_OR_SECRETARY = Who(
    "investigator_or_secretary",
    "an assigned investigator or the secretary",
    lambda c: c.holds(Capacity.INVESTIGATOR) or c.has_role(Role.SECRETARY),
)
ADVISOR_OR_COSIGNER = Who(
    "advisor_or_cosigner",
    "the advisor, or the secretary when a co-signature is awaited",
    lambda c: c.has_role(Role.SECRETARY) if _awaits_cosign(c) else _advisor(c),
)
APPEAL_DECIDER = Who(
    "appeal_decider",
    "the assigned appeal reviewer (or the secretary if none is assigned)",
    lambda c: (
        c.holds(Capacity.APPEAL_REVIEWER)
        if c.anyone_holds(Capacity.APPEAL_REVIEWER)
        else c.has_role(Role.SECRETARY)
    ),
)

# Separation of duties.
ACTOR_NOT_PARTY = Guard(
    "actor_not_party",
    _refuse_when(
        lambda c: c.is_party(c.actor.id),
        "the reporter and the subject may not handle their own case",
    ),
    separation_of_duties=True,
)
VERIFIER_DID_NOT_INVESTIGATE = Guard(
    "verifier_did_not_investigate",
    _refuse_when(
        lambda c: _handled(c, Capacity.INVESTIGATOR),
        "a verifier may not verify findings of a case they investigated",
    ),
    separation_of_duties=True,
)


ADVISOR_NOT_INVESTIGATOR = _signer_took_no_part("advisor_not_investigator", "the signing advisor")
COSIGNER_DID_NOT_INVESTIGATE = _signer_took_no_part(
    "cosigner_did_not_investigate", "the co-signing secretary"
)
REVIEWER_TOOK_NO_PART = Guard(
    "reviewer_took_no_part",
    _refuse_when(
        lambda c: bool(c.capacities(c.actor.id) - {Capacity.APPEAL_REVIEWER.value}),
        "the appeal reviewer must have taken no part in the case",
    ),
    separation_of_duties=True,
)
DECIDER_NOT_REQUESTER = Guard(
    "decider_not_requester",
    _refuse_when(
        lambda c: c.actor.id == c.case.extension_requested_by,
        "an extension may not be decided by the person who asked for it",
    ),
    separation_of_duties=True,
)


def _statement_period_ended(c: ActionContext) -> str | None:
    due = c.case.statement_due_at
    if due is None:
        return "the subject has not been given a statement period"
    return None if c.now >= due else f"the statement period runs until {due:%Y-%m-%d %H:%M} UTC"


# The state of the case.
STATEMENT_PENDING = Guard(
    "statement_pending",
    lambda c: (
        None
        if c.case.statement_state == StatementState.PENDING
        else f"the subject's statement is already {c.case.statement_state}"
    ),
)
STATEMENT_PERIOD_ENDED = Guard("statement_period_ended", _statement_period_ended)
STATEMENT_RECORDED_OR_WAIVED = Guard(
    "statement_recorded_or_waived",
    _refuse_when(
        lambda c: c.case.statement_state == StatementState.PENDING,
        "findings need the subject's statement, or the statement period ended and waived",
    ),
)
NOTHING_PROPOSED = Guard(
    "nothing_proposed",
    lambda c: (
        None
        if c.case.proposed_disposition is None
        else f"'{c.case.proposed_disposition}' is already proposed"
    ),
)
PROPOSAL_PENDING = Guard(
    "proposal_pending",
    _refuse_when(lambda c: c.case.proposed_disposition is None, "no disposition is proposed"),
)
PROPOSAL_AWAITS_ADVISOR = Guard(
    "proposal_awaits_advisor",
    lambda c: (
        "no disposition is proposed"
        if c.case.proposed_disposition is None
        else "the advisor has already signed off"
        if c.case.advisor_signed_by is not None
        else None
    ),
)
PROPOSAL_AWAITS_COSIGN = Guard(
    "proposal_awaits_cosign",
    lambda c: (
        None
        if _awaits_cosign(c)
        else "no co-signature is awaited (needs an advisor-signed sanction that policy marks "
        "as requiring the secretary)"
    ),
)
WITHIN_APPEAL_WINDOW = Guard(
    "within_appeal_window",
    _refuse_when(
        lambda c: not (c.case.appeal_window_ends_at and c.now <= c.case.appeal_window_ends_at),
        "the appeal window has ended",
    ),
)
APPEAL_WINDOW_ENDED = Guard(
    "appeal_window_ended",
    _refuse_when(
        lambda c: not (c.case.appeal_window_ends_at and c.now > c.case.appeal_window_ends_at),
        "the appeal window is still open",
    ),
)
NO_EXTENSION_PENDING = Guard(
    "no_extension_pending",
    _refuse_when(
        lambda c: c.case.extension_requested_by is not None,
        "an extension request is already waiting for the secretary",
    ),
)
EXTENSIONS_LEFT = Guard(
    "extensions_left",
    lambda c: (
        None
        if c.case.extensions_granted < c.policy.extensions.max_per_stage
        else f"the policy allows {c.policy.extensions.max_per_stage} extension(s) per stage "
        f"and this stage has had {c.case.extensions_granted}"
    ),
)
EXTENSION_PENDING = Guard(
    "extension_pending",
    _refuse_when(
        lambda c: c.case.extension_requested_by is None, "no extension has been requested"
    ),
)

# Branches.
NEEDS_COSIGN = Condition(
    "needs_cosign", lambda c: c.requires_cosign() and c.case.cosigned_by is None
)

"""Named actor predicates (``who``) and guards used by the TRANSITIONS table.

Each guard returns None when it holds, or the reason it does not. Guards listed in
SOD_GUARDS are separation-of-duties rules and surface as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cases.commands import Command
from cases.models import CaseParty, ConductCase, Person
from cases.policy import Policy
from cases.vocabulary import ASSIGNABLE, Capacity, Role, Stage, StatementState


@dataclass
class ActionContext:
    """What a rule may look at: the case, the actor, their roles in scope, the parties."""

    case: ConductCase
    actor: Person
    roles: frozenset[str]
    parties: list[CaseParty]
    policy: Policy
    now: datetime
    command: Command | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    def capacities(self, person_id: int | None, *, active_only: bool = False) -> set[str]:
        """The capacities ``person_id`` has (or had) on this case."""
        return {
            p.capacity
            for p in self.parties
            if p.person_id == person_id and (p.active or not active_only)
        }

    def holds(self, capacity: Capacity) -> bool:
        """True when the actor is currently assigned in ``capacity``."""
        return capacity.value in self.capacities(self.actor.id, active_only=True)

    def anyone_holds(self, capacity: Capacity) -> bool:
        return any(p.capacity == capacity.value and p.active for p in self.parties)

    def is_party(self, person_id: int | None) -> bool:
        """Reporter or subject of this case."""
        return person_id is not None and person_id in (self.case.subject_id, self.case.reporter_id)

    def requires_cosign(self) -> bool:
        entry = self.policy.disposition(self.case.proposed_disposition or "")
        return bool(entry and entry.requires_cosign)


Check = Callable[[ActionContext], bool]
Guard = Callable[[ActionContext], str | None]


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
        return c.has_role(Role.INVESTIGATOR) or c.has_role(Role.SECRETARY)
    return any(c.holds(capacity) for capacity in ASSIGNABLE)


WHO: dict[str, Check] = {
    "triage": lambda c: c.has_role(Role.INVESTIGATOR) or c.has_role(Role.SECRETARY),
    "case_assignee": _assignee,
    "secretary": lambda c: c.has_role(Role.SECRETARY),
    "case_investigator": lambda c: c.holds(Capacity.INVESTIGATOR),
    "case_verifier": lambda c: c.holds(Capacity.VERIFIER),
    "case_advisor": _advisor,
    "case_subject": lambda c: c.actor.id == c.case.subject_id,
    "investigator_or_subject": lambda c: (
        c.holds(Capacity.INVESTIGATOR) or c.actor.id == c.case.subject_id
    ),
    "investigator_or_secretary": lambda c: (
        c.holds(Capacity.INVESTIGATOR) or c.has_role(Role.SECRETARY)
    ),
    "advisor_or_cosigner": lambda c: (
        c.has_role(Role.SECRETARY) if _awaits_cosign(c) else _advisor(c)
    ),
    "appeal_decider": lambda c: (
        c.holds(Capacity.APPEAL_REVIEWER)
        if c.anyone_holds(Capacity.APPEAL_REVIEWER)
        else c.has_role(Role.SECRETARY)
    ),
}

WHO_TEXT: dict[str, str] = {
    "triage": "an investigator or the secretary responsible for the unit",
    "case_assignee": "a person assigned to the case (at intake: an investigator or the secretary)",
    "secretary": "the committee secretary",
    "case_investigator": "an investigator assigned to the case",
    "case_verifier": "the verifier assigned to the case",
    "case_advisor": "the advisor of the subject's organisation",
    "case_subject": "the subject of the case",
    "investigator_or_subject": "an assigned investigator or the subject",
    "investigator_or_secretary": "an assigned investigator or the secretary",
    "advisor_or_cosigner": "the advisor, or the secretary when a co-signature is awaited",
    "appeal_decider": "the assigned appeal reviewer (or the secretary if none is assigned)",
}


def _handled(c: ActionContext, *capacities: Capacity) -> bool:
    wanted = {cap.value for cap in capacities}
    return bool(c.capacities(c.actor.id) & wanted)


GUARDS: dict[str, Guard] = {
    "actor_not_party": lambda c: (
        "the reporter and the subject may not handle their own case"
        if c.is_party(c.actor.id)
        else None
    ),
    "statement_pending": lambda c: (
        None
        if c.case.statement_state == StatementState.PENDING
        else f"the subject's statement is already {c.case.statement_state}"
    ),
    "statement_period_ended": lambda c: (
        None
        if c.case.statement_due_at is not None and c.now >= c.case.statement_due_at
        else f"the statement period runs until {c.case.statement_due_at:%Y-%m-%d %H:%M} UTC"
        if c.case.statement_due_at
        else "the subject has not been given a statement period"
    ),
    "statement_recorded_or_waived": lambda c: (
        None
        if c.case.statement_state != StatementState.PENDING
        else "findings need the subject's statement, or the statement period ended and waived"
    ),
    "verifier_did_not_investigate": lambda c: (
        "a verifier may not verify findings of a case they investigated"
        if _handled(c, Capacity.INVESTIGATOR)
        else None
    ),
    "nothing_proposed": lambda c: (
        None
        if c.case.proposed_disposition is None
        else f"'{c.case.proposed_disposition}' is already proposed"
    ),
    "proposal_pending": lambda c: (
        None if c.case.proposed_disposition is not None else "no disposition is proposed"
    ),
    "proposal_awaits_advisor": lambda c: (
        "no disposition is proposed"
        if c.case.proposed_disposition is None
        else "the advisor has already signed off"
        if c.case.advisor_signed_by is not None
        else None
    ),
    "proposal_awaits_cosign": lambda c: (
        None
        if _awaits_cosign(c)
        else "no co-signature is awaited (needs an advisor-signed sanction that policy marks "
        "as requiring the secretary)"
    ),
    "advisor_not_investigator": lambda c: (
        "the signing advisor may not be an investigator or verifier of the case"
        if _handled(c, Capacity.INVESTIGATOR, Capacity.VERIFIER)
        else None
    ),
    "cosigner_did_not_investigate": lambda c: (
        "the co-signing secretary may not be an investigator or verifier of the case"
        if _handled(c, Capacity.INVESTIGATOR, Capacity.VERIFIER)
        else None
    ),
    "within_appeal_window": lambda c: (
        None
        if c.case.appeal_window_ends_at and c.now <= c.case.appeal_window_ends_at
        else "the appeal window has ended"
    ),
    "appeal_window_ended": lambda c: (
        None
        if c.case.appeal_window_ends_at and c.now > c.case.appeal_window_ends_at
        else "the appeal window is still open"
    ),
    "reviewer_took_no_part": lambda c: (
        "the appeal reviewer must have taken no part in the case"
        if c.capacities(c.actor.id) - {Capacity.APPEAL_REVIEWER.value}
        else None
    ),
    "no_extension_pending": lambda c: (
        "an extension request is already waiting for the secretary"
        if c.case.extension_requested_by is not None
        else None
    ),
    "extensions_left": lambda c: (
        None
        if c.case.extensions_granted < c.policy.extensions.max_per_stage
        else f"the policy allows {c.policy.extensions.max_per_stage} extension(s) per stage "
        f"and this stage has had {c.case.extensions_granted}"
    ),
    "extension_pending": lambda c: (
        None if c.case.extension_requested_by is not None else "no extension has been requested"
    ),
    "decider_not_requester": lambda c: (
        "an extension may not be decided by the person who asked for it"
        if c.actor.id == c.case.extension_requested_by
        else None
    ),
}

SOD_GUARDS = frozenset(
    {
        "decider_not_requester",
        "actor_not_party",
        "verifier_did_not_investigate",
        "advisor_not_investigator",
        "cosigner_did_not_investigate",
        "reviewer_took_no_part",
    }
)

BRANCH_CONDITIONS: dict[str, Check] = {
    "needs_cosign": lambda c: c.requires_cosign() and c.case.cosigned_by is None,
}

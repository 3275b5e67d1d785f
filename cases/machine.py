"""The stage machine as data: (stage, action) -> rule (who may act, guards, next stage).

Read the TRANSITIONS table top to bottom to know the whole procedure. ``who`` names
an actor predicate and ``guards`` name checks, both in ``cases.guards``; ``to`` is
the next stage, ``None`` to stay, or a Branch decided by a named condition.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.vocabulary import Action as A
from cases.vocabulary import Stage as S


@dataclass(frozen=True)
class Branch:
    """Go to ``then`` when the named condition holds, otherwise to ``otherwise``."""

    when: str
    then: S
    otherwise: S


@dataclass(frozen=True)
class Rule:
    who: str
    to: S | Branch | None = None
    guards: tuple[str, ...] = ()


STAFF = ("actor_not_party",)  # reporter and subject never handle their own case

AWAIT_COSIGN = Branch("needs_cosign", S.DISPOSITION, S.APPEAL_WINDOW)

# fmt: off
TRANSITIONS: dict[tuple[S, A], Rule] = {
    # (stage, action)                         who                     next             guards
    (S.INTAKE, A.ACCEPT):             Rule("triage",                 S.INVESTIGATION, STAFF),
    (S.INTAKE, A.DECLINE):            Rule("triage",                 S.CLOSED,        STAFF),
    (S.INVESTIGATION, A.ASSIGN):      Rule("secretary",              None,            STAFF),
    (S.INVESTIGATION, A.RECORD_EVIDENCE):  Rule("case_investigator", None,            STAFF),
    (S.INVESTIGATION, A.RECORD_INTERVIEW): Rule("case_investigator", None,            STAFF),
    (S.INVESTIGATION, A.RECORD_STATEMENT): Rule("investigator_or_subject", None,
                                                ("statement_pending",)),
    (S.INVESTIGATION, A.WAIVE_STATEMENT):  Rule("case_investigator", None,
                                                (*STAFF, "statement_pending",
                                                 "statement_period_ended")),
    (S.INVESTIGATION, A.SUBMIT_FINDINGS):  Rule("case_investigator", S.VERIFICATION,
                                                (*STAFF, "statement_recorded_or_waived")),
    (S.VERIFICATION, A.ASSIGN):       Rule("secretary",              None,            STAFF),
    (S.VERIFICATION, A.CONFIRM):      Rule("case_verifier",          S.DISPOSITION,
                                           (*STAFF, "verifier_did_not_investigate")),
    (S.VERIFICATION, A.RETURN):       Rule("case_verifier",          S.INVESTIGATION,
                                           (*STAFF, "verifier_did_not_investigate")),
    (S.DISPOSITION, A.ASSIGN):        Rule("secretary",              None,            STAFF),
    (S.DISPOSITION, A.PROPOSE):       Rule("investigator_or_secretary", None,
                                           (*STAFF, "nothing_proposed")),
    (S.DISPOSITION, A.SIGN_OFF):      Rule("case_advisor",           AWAIT_COSIGN,
                                           (*STAFF, "proposal_awaits_advisor",
                                            "advisor_not_investigator")),
    (S.DISPOSITION, A.REFUSE):        Rule("advisor_or_cosigner",    None,
                                           (*STAFF, "proposal_pending",
                                            "advisor_not_investigator")),
    (S.DISPOSITION, A.CO_SIGN):       Rule("secretary",              S.APPEAL_WINDOW,
                                           (*STAFF, "proposal_awaits_cosign",
                                            "cosigner_did_not_investigate")),
    (S.APPEAL_WINDOW, A.APPEAL):      Rule("case_subject",           S.APPEAL_REVIEW,
                                           ("within_appeal_window",)),
    (S.APPEAL_WINDOW, A.CLOSE):       Rule("investigator_or_secretary", S.CLOSED,
                                           (*STAFF, "appeal_window_ended")),
    (S.APPEAL_REVIEW, A.ASSIGN):      Rule("secretary",              None,            STAFF),
    (S.APPEAL_REVIEW, A.DECIDE_APPEAL): Rule("appeal_decider",       S.CLOSED,
                                             (*STAFF, "reviewer_took_no_part")),
}
# fmt: on

# Extensions (延期) in every stage where staff owe work: an assignee asks, the secretary
# grants (new due day) or refuses. The appeal window is the subject's right and is not extended.
EXTENDABLE = (S.INTAKE, S.INVESTIGATION, S.VERIFICATION, S.DISPOSITION, S.APPEAL_REVIEW)
DECIDE_EXTENSION = (*STAFF, "extension_pending", "decider_not_requester")
TRANSITIONS |= {
    rule: value
    for stage in EXTENDABLE
    for rule, value in {
        (stage, A.REQUEST_EXTENSION): Rule(
            "case_assignee", None, (*STAFF, "no_extension_pending", "extensions_left")
        ),
        (stage, A.GRANT_EXTENSION): Rule("secretary", None, DECIDE_EXTENSION),
        (stage, A.REFUSE_EXTENSION): Rule("secretary", None, DECIDE_EXTENSION),
    }.items()
}


def allowed_actions(stage: S) -> list[str]:
    """The actions the table allows in ``stage`` (before who/guards are checked)."""
    return sorted(action.value for (s, action) in TRANSITIONS if s is stage)


def rule_for(stage: S, action: A) -> Rule | None:
    """The rule for ``action`` in ``stage``, or None when the procedure has no such step."""
    return TRANSITIONS.get((stage, action))

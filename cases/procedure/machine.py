"""The stage machine as data: (stage, action) -> rule (who may act, guards, next stage).

Read the TRANSITIONS table top to bottom to know the whole procedure. ``who`` is an
actor predicate and ``guards`` are checks, both objects of ``cases.procedure.guards`` (``G``);
``to`` is the next stage, ``None`` to stay, or a Branch decided by a named condition.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.procedure import guards as G
from cases.procedure.vocabulary import STAFF_STAGES
from cases.procedure.vocabulary import Action as A
from cases.procedure.vocabulary import Stage as S


@dataclass(frozen=True)
class Branch:
    """Go to ``then`` when the condition holds, otherwise to ``otherwise``."""

    when: G.Condition
    then: S
    otherwise: S


@dataclass(frozen=True)
class Rule:
    who: G.Who
    to: S | Branch | None = None
    guards: tuple[G.Guard, ...] = ()


STAFF = (G.ACTOR_NOT_PARTY,)  # reporter and subject never handle their own case

AWAIT_COSIGN = Branch(G.NEEDS_COSIGN, S.DISPOSITION, S.APPEAL_WINDOW)

# fmt: off
TRANSITIONS: dict[tuple[S, A], Rule] = {
    # (stage, action)                         who                      next             guards
    (S.INTAKE, A.ACCEPT):             Rule(G.TRIAGE,                  S.INVESTIGATION, STAFF),
    (S.INTAKE, A.DECLINE):            Rule(G.TRIAGE,                  S.CLOSED,        STAFF),
    (S.INVESTIGATION, A.ASSIGN):      Rule(G.SECRETARY,               None,            STAFF),
    (S.INVESTIGATION, A.RECORD_EVIDENCE):  Rule(G.CASE_INVESTIGATOR,  None,            STAFF),
    (S.INVESTIGATION, A.RECORD_INTERVIEW): Rule(G.CASE_INVESTIGATOR,  None,            STAFF),
    (S.INVESTIGATION, A.RECORD_STATEMENT): Rule(G.INVESTIGATOR_OR_SUBJECT, None,
                                                (G.STATEMENT_PENDING,)),
    (S.INVESTIGATION, A.WAIVE_STATEMENT):  Rule(G.CASE_INVESTIGATOR,  None,
                                                (*STAFF, G.STATEMENT_PENDING,
                                                 G.STATEMENT_PERIOD_ENDED)),
    (S.INVESTIGATION, A.SUBMIT_FINDINGS):  Rule(G.CASE_INVESTIGATOR,  S.VERIFICATION,
                                                (*STAFF, G.STATEMENT_RECORDED_OR_WAIVED)),
    (S.VERIFICATION, A.ASSIGN):       Rule(G.SECRETARY,               None,            STAFF),
    (S.VERIFICATION, A.CONFIRM):      Rule(G.CASE_VERIFIER,           S.DISPOSITION,
                                           (*STAFF, G.VERIFIER_DID_NOT_INVESTIGATE)),
    (S.VERIFICATION, A.RETURN_FINDINGS): Rule(G.CASE_VERIFIER,    S.INVESTIGATION,
                                              (*STAFF, G.VERIFIER_DID_NOT_INVESTIGATE)),
    (S.DISPOSITION, A.ASSIGN):        Rule(G.SECRETARY,               None,            STAFF),
    (S.DISPOSITION, A.PROPOSE):       Rule(G.INVESTIGATOR_OR_SECRETARY, None,
                                           (*STAFF, G.NOTHING_PROPOSED)),
    (S.DISPOSITION, A.SIGN_OFF):      Rule(G.CASE_ADVISOR,            AWAIT_COSIGN,
                                           (*STAFF, G.PROPOSAL_AWAITS_ADVISOR,
                                            G.ADVISOR_NOT_INVESTIGATOR)),
    (S.DISPOSITION, A.REFUSE):        Rule(G.ADVISOR_OR_COSIGNER,     None,
                                           (*STAFF, G.PROPOSAL_PENDING,
                                            G.ADVISOR_NOT_INVESTIGATOR)),
    (S.DISPOSITION, A.CO_SIGN):       Rule(G.SECRETARY,               S.APPEAL_WINDOW,
                                           (*STAFF, G.PROPOSAL_AWAITS_COSIGN,
                                            G.COSIGNER_DID_NOT_INVESTIGATE)),
    (S.APPEAL_WINDOW, A.APPEAL):      Rule(G.CASE_SUBJECT,            S.APPEAL_REVIEW,
                                           (G.WITHIN_APPEAL_WINDOW,)),
    (S.APPEAL_WINDOW, A.CLOSE):       Rule(G.INVESTIGATOR_OR_SECRETARY, S.CLOSED,
                                           (*STAFF, G.APPEAL_WINDOW_ENDED)),
    (S.APPEAL_REVIEW, A.ASSIGN):      Rule(G.SECRETARY,               None,            STAFF),
    (S.APPEAL_REVIEW, A.DECIDE_APPEAL): Rule(G.APPEAL_DECIDER,        S.CLOSED,
                                             (*STAFF, G.REVIEWER_TOOK_NO_PART)),
}
# fmt: on

# Extensions (延期) in every stage where staff owe work: an assignee asks, the secretary
# grants (new due day) or refuses.
ASK_EXTENSION = (*STAFF, G.NO_EXTENSION_PENDING, G.EXTENSIONS_LEFT)
DECIDE_EXTENSION = (*STAFF, G.EXTENSION_PENDING, G.DECIDER_NOT_REQUESTER)
TRANSITIONS |= {
    rule: value
    for stage in STAFF_STAGES
    for rule, value in {
        (stage, A.REQUEST_EXTENSION): Rule(G.CASE_ASSIGNEE, None, ASK_EXTENSION),
        (stage, A.GRANT_EXTENSION): Rule(G.SECRETARY, None, DECIDE_EXTENSION),
        (stage, A.REFUSE_EXTENSION): Rule(G.SECRETARY, None, DECIDE_EXTENSION),
    }.items()
}


def allowed_actions(stage: S) -> list[str]:
    """The actions the table allows in ``stage`` (before who/guards are checked)."""
    return sorted(action.value for (s, action) in TRANSITIONS if s is stage)


def rule_for(stage: S, action: A) -> Rule | None:
    """The rule for ``action`` in ``stage``, or None when the procedure has no such step."""
    return TRANSITIONS.get((stage, action))

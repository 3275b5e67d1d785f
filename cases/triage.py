"""Triage checks run when a report is filed: possible duplicates and missing information.

Rules over a report and its earlier cases; filing records the result on the case (and as
the ``triage.checked`` event) in its own transaction, so it is on the case file before
anyone can accept or decline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from cases.procedure.policy import Policy
from cases.store.models import ConductCase

TRIAGE_EVENT = "triage.checked"
MIN_DETAILS = 30  # characters; shorter reports rarely say who did what, when and where


@dataclass(frozen=True)
class TriageResult:
    possible_duplicate_of: str | None
    missing: tuple[str, ...]


def missing_information(case: ConductCase) -> tuple[str, ...]:
    """What a triager will have to ask for before accepting (codes, stable for templates)."""
    missing = []
    if not case.reported_category:
        missing.append("category")
    if len(case.details.strip()) < MIN_DETAILS:
        missing.append("details")
    if not case.anonymous and not case.reporter_id and not case.reporter_contact:
        missing.append("reporter_contact")  # named but unreachable: follow-up impossible
    return tuple(missing)


def earlier_duplicate(session: Session, case: ConductCase, policy: Policy) -> str | None:
    """The newest earlier case about the same subject and category within the window."""
    category = case.category or case.reported_category
    if category is None:
        return None
    since: datetime = case.filed_at - timedelta(days=policy.triage.duplicate_window_days)
    same_category = (col(ConductCase.category) == category) | (
        col(ConductCase.reported_category) == category
    )
    return session.exec(
        select(ConductCase.reference)
        .where(
            col(ConductCase.subject_id) == case.subject_id,
            col(ConductCase.id) != case.id,
            col(ConductCase.filed_at) >= since,
            col(ConductCase.filed_at) <= case.filed_at,
            same_category,
        )
        .order_by(col(ConductCase.filed_at).desc())
        .limit(1)
    ).first()


def triage(session: Session, case: ConductCase, policy: Policy) -> TriageResult:
    """Both checks for one case."""
    return TriageResult(earlier_duplicate(session, case, policy), missing_information(case))

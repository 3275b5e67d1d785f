"""Who hears of a stage change or a deadline step: targets per stage, resolved to people.

Stage entries name their audience here; deadline steps take theirs from the policy's
ladder (``notify``). The reporter is reached only when identified (a named reporter or a
signed-in one); anonymous reporters follow their case with the receipt code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cases.models import CaseParty, ConductCase, Person, RoleGrant, Unit
from cases.policy import Policy
from cases.vocabulary import ASSIGNABLE, Capacity, Role, Stage

# fmt: off
ON_ENTERING: dict[Stage, tuple[str, ...]] = {
    Stage.INTAKE:        ("reporter", "secretary"),   # report received; triage to do
    Stage.INVESTIGATION: ("assignees", "subject", "reporter"),  # accepted; statement asked
    Stage.VERIFICATION:  ("assignees", "secretary"),  # findings await a verifier
    Stage.DISPOSITION:   ("advisor", "secretary"),    # sign-off requested
    Stage.APPEAL_WINDOW: ("subject", "reporter"),     # decision notice, appeal rights
    Stage.APPEAL_REVIEW: ("secretary", "assignees"),  # an appeal to review
    Stage.CLOSED:        ("subject", "reporter", "assignees"),
}
# fmt: on


@dataclass(frozen=True)
class Recipient:
    person_id: int
    target: str  # which audience they belong to (assignees, secretary, ...)
    language: str


def targets_for(event: str, stage: Stage, policy: Policy) -> tuple[str, ...]:
    """The audiences of ``event`` ('deadline.<step>' or a stage-changing action)."""
    if event.startswith("deadline."):
        step = event.removeprefix("deadline.")
        return next((tuple(s.notify) for s in policy.escalation if s.step == step), ())
    return ON_ENTERING.get(stage, ())


def resolve(session: Session, case: ConductCase, targets: tuple[str, ...]) -> list[Recipient]:
    """The people behind each target, once each (the first target that names them wins)."""
    seen: dict[int, Recipient] = {}
    for target in targets:
        for person in _people(session, case, target):
            if person.id is not None and person.active and person.id not in seen:
                seen[person.id] = Recipient(person.id, target, person.language)
    return list(seen.values())


def _people(session: Session, case: ConductCase, target: str) -> list[Person]:
    if target == "reporter":
        return [p for p in [session.get(Person, case.reporter_id or 0)] if p]
    if target == "subject":
        return [p for p in [session.get(Person, case.subject_id)] if p]
    if target == "assignees":
        return _parties(session, case, {c.value for c in ASSIGNABLE})
    if target == "advisor":
        return _parties(session, case, {Capacity.ADVISOR.value}) or _in_scope(
            session, case, Role.ADVISOR
        )
    if target == "secretary":
        return _in_scope(session, case, Role.SECRETARY)
    raise ValueError(f"unknown notification target {target!r}")


def _parties(session: Session, case: ConductCase, capacities: set[str]) -> list[Person]:
    return list(
        session.exec(
            select(Person)
            .join(CaseParty, col(CaseParty.person_id) == Person.id)
            .where(
                CaseParty.case_id == case.id,
                col(CaseParty.active),
                col(CaseParty.capacity).in_(capacities),
            )
            .order_by(col(CaseParty.id))
        ).unique()
    )


def _in_scope(session: Session, case: ConductCase, role: Role) -> list[Person]:
    """People holding ``role`` in the case's unit or any unit above it."""
    unit = session.get(Unit, case.unit_id)
    assert unit is not None
    above = [int(part) for part in unit.path.strip("/").split("/") if part]
    return list(
        session.exec(
            select(Person)
            .join(RoleGrant, col(RoleGrant.person_id) == Person.id)
            .where(RoleGrant.role == role.value, col(RoleGrant.unit_id).in_(above))
            .order_by(col(Person.id))
        ).unique()
    )

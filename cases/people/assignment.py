"""Putting people on a case: separation of duties and conflict of interest, every time."""

from __future__ import annotations

from sqlmodel import Session

from cases.context import CaseContext
from cases.people.access import roles_in_scope
from cases.people.directory import related
from cases.procedure.errors import ConflictOfInterest, IneligibleAssignee, SeparationOfDuties
from cases.procedure.vocabulary import PARTIES, Capacity, Role
from cases.store.models import CaseParty, Person, Unit, pk

# The unit role an assignee must hold (in scope of the case's unit) for each capacity.
REQUIRED_ROLES: dict[Capacity, frozenset[str]] = {
    Capacity.INVESTIGATOR: frozenset({Role.INVESTIGATOR.value}),
    Capacity.VERIFIER: frozenset({Role.VERIFIER.value}),
    Capacity.ADVISOR: frozenset({Role.ADVISOR.value}),
    Capacity.APPEAL_REVIEWER: frozenset(
        {Role.SECRETARY.value, Role.VERIFIER.value, Role.INVESTIGATOR.value}
    ),
}

# Capacities a person may not already hold (or have held) on the case to take ``capacity``.
INCOMPATIBLE: dict[Capacity, frozenset[str]] = {
    Capacity.INVESTIGATOR: frozenset(
        {Capacity.VERIFIER, Capacity.ADVISOR, Capacity.COSIGNER, Capacity.APPEAL_REVIEWER}
    ),
    Capacity.VERIFIER: frozenset(
        {Capacity.INVESTIGATOR, Capacity.ADVISOR, Capacity.COSIGNER, Capacity.APPEAL_REVIEWER}
    ),
    Capacity.ADVISOR: frozenset(
        {Capacity.INVESTIGATOR, Capacity.VERIFIER, Capacity.APPEAL_REVIEWER}
    ),
    # Parties are refused before this table is read (check_assignable), so it names handlers.
    Capacity.APPEAL_REVIEWER: frozenset(
        {c.value for c in Capacity} - {Capacity.APPEAL_REVIEWER, *PARTIES}
    ),
}


def check_assignable(
    session: Session,
    ctx: CaseContext,
    person: Person,
    capacity: Capacity,
    *,
    unit: Unit,
    override_reason: str | None,
    field: str = "person",
) -> str | None:
    """Raise on a duty or interest conflict; return the override reason that was used, if any.

    A party to the case and a person without a matching role are refused alike
    (IneligibleAssignee): the answer must not tell staff who reported an anonymous case.
    """
    assert person.id is not None
    if ctx.is_party(person.id):
        raise IneligibleAssignee(
            person.handle, capacity.value, field=field, reason="party_not_handler: a party"
        )
    held = ctx.capacities(person.id) & INCOMPATIBLE[capacity]
    if held:
        raise SeparationOfDuties(
            f"{person.handle} cannot be {capacity.value}: already "
            f"{', '.join(sorted(held))} on this case",
            rule=f"{capacity.value}_separation",
        )
    if not roles_in_scope(session, person.id, unit.path) & REQUIRED_ROLES[capacity]:
        raise IneligibleAssignee(
            person.handle,
            capacity.value,
            field=field,
            reason=f"no role that may act as {capacity.value} for unit {unit.code}",
        )
    conflict = _conflict(session, ctx, person, capacity)
    if conflict is None:
        return None
    if not override_reason:
        raise ConflictOfInterest(
            f"{person.handle}: {conflict}; the secretary may override with a reason",
            field=field,
            conflict=conflict,
        )
    if not ctx.has_role(Role.SECRETARY):
        raise ConflictOfInterest(
            f"{person.handle}: {conflict}; only the secretary may override",
            field="override_reason",
            conflict=conflict,
        )
    return override_reason


def _conflict(session: Session, ctx: CaseContext, person: Person, capacity: Capacity) -> str | None:
    assert person.id is not None
    # Advisors belong to the subject's unit by design; the same-unit rule is for handlers.
    if capacity is not Capacity.ADVISOR and person.unit_id == ctx.case.unit_id:
        return "same unit as the subject"
    # An anonymous reporter's identity is sealed from staff, so a relationship with them is
    # not checked here: refusing it would tell the assigner who reported.
    parties = [ctx.case.subject_id] + ([] if ctx.case.anonymous else [ctx.case.reporter_id])
    kind = related(session, person.id, parties)
    return f"declared relationship ({kind}) with a party" if kind else None


def put_on_case(
    session: Session,
    ctx: CaseContext,
    person: Person,
    capacity: Capacity,
    *,
    override_reason: str | None = None,
) -> CaseParty:
    """Record ``person`` in ``capacity`` (re-activating an earlier row), visible to ctx.parties."""
    existing = next(
        (p for p in ctx.parties if p.person_id == person.id and p.capacity == capacity.value),
        None,
    )
    party = existing or CaseParty(
        case_id=pk(ctx.case), person_id=pk(person), capacity=capacity.value, since=ctx.now
    )
    party.active = True
    party.assigned_by = ctx.actor.id
    party.override_reason = override_reason or party.override_reason
    session.add(party)
    if existing is None:
        ctx.parties.append(party)
    return party


def deactivate(ctx: CaseContext, session: Session, capacity: Capacity) -> None:
    """Stand down everyone currently assigned in ``capacity`` (a reassignment)."""
    for party in ctx.parties:
        if party.capacity == capacity.value and party.active:
            party.active = False
            session.add(party)

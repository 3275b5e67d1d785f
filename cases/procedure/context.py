"""What a rule may look at when an action is asked for: the case, the actor, their roles
in scope, the parties. The case and people are described by what the rules read of them
(protocols), so the procedure depends on no table; the stored rows satisfy them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cases.procedure.commands import Command
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Capacity, Role


class CaseFacts(Protocol):
    """The fields of a case the rules read."""

    @property
    def stage(self) -> str: ...
    @property
    def subject_id(self) -> int | None: ...
    @property
    def reporter_id(self) -> int | None: ...
    @property
    def proposed_disposition(self) -> str | None: ...
    @property
    def statement_state(self) -> str: ...
    @property
    def statement_due_at(self) -> datetime | None: ...
    @property
    def appeal_window_ends_at(self) -> datetime | None: ...
    @property
    def advisor_signed_by(self) -> int | None: ...
    @property
    def cosigned_by(self) -> int | None: ...
    @property
    def extension_requested_by(self) -> int | None: ...
    @property
    def extensions_granted(self) -> int: ...


class PartyFacts(Protocol):
    """One assignment or act of a person on the case."""

    @property
    def person_id(self) -> int: ...
    @property
    def capacity(self) -> str: ...
    @property
    def active(self) -> bool: ...


class ActorFacts(Protocol):
    """Who asks."""

    @property
    def id(self) -> int | None: ...


@dataclass
class ActionContext:
    """What a rule may look at: the case, the actor, their roles in scope, the parties."""

    case: CaseFacts
    actor: ActorFacts
    roles: frozenset[str]
    parties: Sequence[PartyFacts]
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

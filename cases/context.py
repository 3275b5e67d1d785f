"""The action context over the stored rows: what effects change (the case row itself)."""

from __future__ import annotations

from dataclasses import dataclass

from cases.procedure.context import ActionContext
from cases.store.models import CaseParty, ConductCase, Person


@dataclass
class CaseContext(ActionContext):
    """An ``ActionContext`` whose case, actor and parties are the unit of work's rows."""

    case: ConductCase
    actor: Person
    parties: list[CaseParty]

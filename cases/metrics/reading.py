"""The events the figures read, from the audit chains: of a scope (one query), or of a
few cases (the projection's refresh)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from cases.metrics.events import (
    DEADLINE_PREFIX,
    FILED,
    RECOMPUTED,
    SURVEY,
    Event,
    Scope,
    action_event,
)
from cases.procedure.clock import to_utc
from cases.procedure.vocabulary import Action
from cases.store.models import AuditEvent, ConductCase, Unit

# The events the figures read: filing, every staff action, recorded due times, ratings.
READ = (FILED, RECOMPUTED, SURVEY, *(action_event(a) for a in Action))
TRIAGE_AND_ASSIGN = tuple(action_event(a) for a in (Action.ACCEPT, Action.DECLINE, Action.ASSIGN))


def read_by_figures(action: str) -> bool:
    """Whether the figures read an event of ``action`` (``_events``' filter, in Python)."""
    return action in READ or action.startswith(DEADLINE_PREFIX)


def _events() -> Select[*tuple[Any, ...]]:
    """Every event the figures read, with its case's unit path."""
    return (
        select_rows(
            col(AuditEvent.case_id),
            col(AuditEvent.seq),
            col(Unit.path),
            col(AuditEvent.action),
            col(AuditEvent.at),
            col(AuditEvent.data),
            col(AuditEvent.actor_id),
        )
        .join(ConductCase, col(ConductCase.id) == AuditEvent.case_id)
        .join(Unit, col(Unit.id) == ConductCase.unit_id)
        .where(
            or_(
                col(AuditEvent.action).in_(READ), col(AuditEvent.action).startswith(DEADLINE_PREFIX)
            ),
        )
    )


def _read(session: Session, query: Select[*tuple[Any, ...]]) -> list[Event]:
    return [
        Event(case_id, seq, path, action, to_utc(at), json.loads(data), actor_id)
        for case_id, seq, path, action, at, data, actor_id in session.execute(query)
    ]


def read_case_events(session: Session, case_ids: Iterable[int]) -> list[Event]:
    """Every event the figures read of these cases."""
    return _read(session, _events().where(col(AuditEvent.case_id).in_(list(case_ids))))


def read_events(
    session: Session, scope: Scope, before: datetime, *, open_since: datetime | None = None
) -> list[Event]:
    """The scope's cases' events the figures read, earlier than ``before``: one query.
    ``open_since``: only the cases not closed before it (a case closed earlier has no stay
    in a window from then on)."""
    query = _events().where(col(AuditEvent.at) < before)
    if open_since is not None:
        closed = col(ConductCase.closed_at)
        query = query.where(or_(closed.is_(None), closed >= open_since))
    if scope.unit_path is not None:
        query = query.where(col(Unit.path).startswith(scope.unit_path))
    if scope.investigator is not None:  # a superset; compute keeps the cases exactly
        who = scope.investigator
        marked = select(AuditEvent.case_id).where(
            col(AuditEvent.action).in_(TRIAGE_AND_ASSIGN),
            or_(
                col(AuditEvent.actor_id) == who.person_id,
                col(AuditEvent.data).contains(
                    f'"person":{json.dumps(who.handle)}', autoescape=True
                ),
            ),
        )
        query = query.where(col(AuditEvent.case_id).in_(marked))
    return _read(session, query)

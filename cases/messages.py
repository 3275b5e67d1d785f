"""Messages between a case's reporter and its team, both ways.

The reporter writes from the status page (or POST /reports/messages) with the receipt code;
the team answers through the API (later the console). Each message is a row and an audit
event; the event tells the other side (the team by their role, a named reporter by the
address they left) that there is a message, never what it says: mail and group chats
are not where a report's words belong. The reporter never learns who answered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlmodel import Session, col, select

from cases.audit import append_event, case_chain
from cases.notices import notify
from cases.people.access import case_for
from cases.procedure.clock import utcnow
from cases.procedure.errors import Forbidden, NotFound, NotNow
from cases.procedure.policy import Policy
from cases.procedure.text import MultiLine, UnixNewlines
from cases.procedure.vocabulary import TRIAGE_ROLES, Capacity, Stage
from cases.store.db import UnitOfWork
from cases.store.models import CaseParty, ConductCase, Person, pk
from cases.store.reporter_side import CaseMessage

FROM_REPORTER_EVENT = "message.from_reporter"
TO_REPORTER_EVENT = "message.to_reporter"
MessageText = Annotated[
    str,
    UnixNewlines,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    MultiLine,
]


class NewMessage(BaseModel):
    """A message to the other side of the case."""

    model_config = ConfigDict(extra="forbid")
    body: MessageText


def messages_of(session: Session, case_id: int) -> list[CaseMessage]:
    """The case's messages, oldest first."""
    query = select(CaseMessage).where(CaseMessage.case_id == case_id)
    return list(session.exec(query.order_by(col(CaseMessage.id))))


def unanswered(messages: list[CaseMessage]) -> int:
    """How many of the reporter's messages came since the team's last one."""
    count = 0
    for message in reversed(messages):
        if not message.from_reporter:
            break
        count += 1
    return count


def may_write(case: ConductCase, messages: list[CaseMessage], policy: Policy) -> bool:
    """Whether the reporter may send a message now: the case is open and they have not
    sent the policy's number of messages in a row without an answer."""
    limit = policy.reporter_view.unanswered_messages
    return Stage(case.stage) is not Stage.CLOSED and unanswered(messages) < limit


def send_from_reporter(
    *,
    uow: UnitOfWork,
    policy: Policy,
    case_id: int,
    message: NewMessage,
    now: datetime | None = None,
) -> int:
    """Record the reporter's message on the case and tell the case team; its id."""
    now = now or utcnow()
    with uow:
        session = uow.session
        case = session.get(ConductCase, case_id, with_for_update=True)
        if case is None:
            raise NotFound("no such case")
        if not may_write(case, messages_of(session, case_id), policy):
            closed = Stage(case.stage) is Stage.CLOSED
            raise NotNow(
                "the case is closed and takes no more messages"
                if closed
                else "wait for the case team's answer before writing again",
                field="body",
            )
        sent = _record(session, case, policy, message, None, now)
        uow.commit()
        return sent


def answer_reporter(
    *,
    uow: UnitOfWork,
    policy: Policy,
    reference: str,
    author: Person,
    message: NewMessage,
    now: datetime | None = None,
) -> int:
    """Record a case-team member's message to the reporter and tell them; its id."""
    now = now or utcnow()
    with uow:
        session = uow.session
        visible = case_for(session, author, reference, for_update=True)
        if not _answers_reporter(session, visible.case, author, visible.roles):
            raise Forbidden("only the case's investigators and the secretary write to its reporter")
        sent = _record(session, visible.case, policy, message, author, now)
        uow.commit()
        return sent


def team_messages(*, uow: UnitOfWork, reference: str, viewer: Person) -> list[CaseMessage]:
    """The case's messages, for staff who may see the case."""
    with uow:
        visible = case_for(uow.session, viewer, reference)
        if not _answers_reporter(uow.session, visible.case, viewer, visible.roles):
            raise Forbidden("only the case's investigators and the secretary read its messages")
        return messages_of(uow.session, pk(visible.case))


def _answers_reporter(
    session: Session, case: ConductCase, person: Person, roles: frozenset[str]
) -> bool:
    """Who corresponds with the reporter: those who take up the unit's reports (the triage
    roles in scope) and the investigators assigned to the case."""
    if roles & {r.value for r in TRIAGE_ROLES}:
        return True
    assigned = select(CaseParty.id).where(
        CaseParty.case_id == case.id,
        CaseParty.person_id == person.id,
        CaseParty.capacity == Capacity.INVESTIGATOR,
    )
    return session.exec(assigned).first() is not None


def _record(
    session: Session,
    case: ConductCase,
    policy: Policy,
    message: NewMessage,
    author: Person | None,
    now: datetime,
) -> int:
    row = CaseMessage(
        case_id=pk(case),
        from_reporter=author is None,
        author_id=author.id if author else None,
        body=message.body,
        sent_at=now,
    )
    session.add(row)
    session.flush()
    event = FROM_REPORTER_EVENT if author is None else TO_REPORTER_EVENT
    appended = append_event(
        session,
        chain=case_chain(pk(case)),
        case_id=case.id,
        actor_id=author.id if author else None,
        action=event,
        at=now,
        data={"message": row.id, "length": len(message.body)},
    )
    notify(session, case, event=event, seq=appended.seq, now=now, policy=policy)
    return pk(row)

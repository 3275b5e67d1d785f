"""Who is told what: each event's audiences and the notice each receives, and the delivery
rows (one per recipient) that carry them to the notification dispatcher.

A notice names a template in ``notifications/templates/<language>/``. Nothing here knows
channels or wording; ``notifications`` turns deliveries into messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from cases.outbox import DELIVERY, NOTIFICATION, NewOutboxRow, enqueue, enqueue_all
from cases.procedure.labels import DEADLINE_EVENT
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Stage
from cases.recipients import resolve
from cases.store.models import ConductCase, OutboxRow

CLOSING = {"subject": "closed", "reporter": "survey_invitation", "assignees": "closed"}

# fmt: off
# (event, stage after it, or None for any) -> {audience: notice}
NOTICES: dict[tuple[str, Stage | None], dict[str, str]] = {
    ("filed", None):             {"reporter": "report_received", "secretary": "report_received"},
    ("accept", None):            {"reporter": "accepted", "subject": "statement_requested",
                                  "assignees": "assigned"},
    ("decline", None):           {"reporter": "declined"},
    ("assign", None):            {"assigned": "assigned"},
    ("submit_findings", None):   {"assignees": "findings_submitted",
                                  "secretary": "findings_submitted"},
    ("return_findings", None):   {"assignees": "findings_returned"},
    ("confirm", None):           {"assignees": "findings_confirmed"},
    ("propose", None):           {"advisor": "signoff_requested"},
    ("refuse", None):            {"assignees": "proposal_refused"},
    ("sign_off", Stage.DISPOSITION):   {"secretary": "signoff_requested"},  # co-sign needed
    ("sign_off", Stage.APPEAL_WINDOW): {"subject": "decision_notice"},
    ("co_sign", None):           {"subject": "decision_notice"},
    ("appeal", None):            {"secretary": "appeal_lodged", "assignees": "appeal_lodged"},
    ("decide_appeal", None):     CLOSING,
    ("close", None):             CLOSING,
    ("request_extension", None): {"secretary": "extension_requested"},
    ("grant_extension", None):   {"requester": "extension_decided"},
    ("refuse_extension", None):  {"requester": "extension_decided"},
    ("deadline.recomputed", None): {"assignees": "deadline_recomputed"},  # due day moved
    # nobody is assigned at intake: the people who triage the unit's reports are told
    ("deadline.recomputed", Stage.INTAKE): {"triagers": "deadline_recomputed"},
    # messages: the other side is told there is one (never what it says)
    ("message.from_reporter", None):         {"assignees": "reporter_message"},
    ("message.from_reporter", Stage.INTAKE): {"triagers": "reporter_message"},
    ("message.to_reporter", None):           {"reporter": "team_message"},
    ("evidence.added_by_reporter", None):         {"assignees": "reporter_evidence"},
    ("evidence.added_by_reporter", Stage.INTAKE): {"triagers": "reporter_evidence"},
}
# fmt: on
DEADLINE_NOTICES = ("reminder", "overdue")  # any later ladder step is an 'escalation'


def notices_for(event: str, stage: Stage, policy: Policy) -> dict[str, str]:
    """The audiences of ``event`` (an action, or 'deadline.<step>' of the ladder, whose
    audiences in ``stage`` the policy names) and their notices."""
    for key in ((event, stage), (event, None)):
        if key in NOTICES:
            return NOTICES[key]
    step = event.removeprefix(DEADLINE_EVENT) if event.startswith(DEADLINE_EVENT) else None
    found = next((s for s in policy.escalation if s.step == step), None)
    if found is None:  # not a ladder step: a skipped one ('deadline.<step>.skipped'), say
        return {}
    notice = found.step if found.step in DEADLINE_NOTICES else "escalation"
    return {audience: notice for audience in found.audiences(stage)}


def delivery_key(case_id: int, event_seq: int, recipient_key: str) -> str:
    return f"deliver:{case_id}:{event_seq}:{recipient_key}"


def prepare_deliveries(
    session: Session,
    case: ConductCase,
    policy: Policy,
    *,
    stage: Stage,
    event: str,
    event_seq: int,
    event_data: dict[str, Any],
    now: datetime,
    only: tuple[str, ...] | None = None,
    sealed_receipt: str | None = None,
) -> int:
    """Write one delivery row per recipient of the event (which led to ``stage``) not yet
    written; returns how many.

    ``only`` limits the audiences; ``sealed_receipt`` goes to the reporter alone.
    """
    assert case.id is not None
    notices = notices_for(event, stage, policy)
    audiences = tuple(a for a in notices if only is None or a in only)
    recipients = resolve(session, case, audiences, event_data)
    keys = {r.key: delivery_key(case.id, event_seq, r.key) for r in recipients}
    written = set(session.exec(select(OutboxRow.key).where(col(OutboxRow.key).in_(keys.values()))))
    messages = []
    for r in recipients:
        if keys[r.key] in written:
            continue
        payload: dict[str, Any] = {
            "event": event,
            "event_seq": event_seq,
            "stage": stage.value,
            "reference": case.reference,
            "notice": notices[r.audience],
            "audience": r.audience,
            "recipient": r.key,
            "person_id": r.person_id,
            "address": r.address,
            "language": r.language,
        }
        if sealed_receipt and r.audience == "reporter":
            payload["receipt_sealed"] = sealed_receipt
        messages.append(NewOutboxRow(keys[r.key], DELIVERY, payload, case.id))
    enqueue_all(session, messages, now=now, skip_existing=True)  # a rerun racing us: no error
    return len(messages)


def notify(
    session: Session, case: ConductCase, *, event: str, seq: int, now: datetime, policy: Policy
) -> None:
    """The notification row for event ``seq`` of ``case``, if the event concerns people."""
    assert case.id is not None
    if notices_for(event, Stage(case.stage), policy):
        payload = event_payload(case, event, seq)
        key = f"event:{case.id}:{seq}"
        enqueue(session, key=key, topic=NOTIFICATION, payload=payload, now=now, case_id=case.id)


def event_payload(case: ConductCase, event: str, seq: int) -> dict[str, object]:
    return {
        "case_id": case.id,
        "reference": case.reference,
        "stage": case.stage,
        "event": event,
        "event_seq": seq,
    }

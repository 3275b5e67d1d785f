"""The variables of one message, taken from the case when the delivery is expanded.

Only what the notice needs: the reference, dates, labels and the recipient's own name.
No message carries the reporter's identity or contact, or the report's text, so a
message to the subject (or to a group chat) cannot reveal who reported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cases.procedure.clock import local_text
from cases.procedure.policy import Policy
from cases.store.models import ConductCase, Person, Unit
from notifications.catalogue import COMMON, VARIABLES, label, language_of


def message_context(
    *,
    case: ConductCase,
    unit: Unit,
    recipient: Person | None,
    delivery: dict[str, Any],
    event_at: datetime,
    event_data: dict[str, Any],
    policy: Policy,
    portal_url: str,
) -> dict[str, Any]:
    """Exactly the variables the delivery's notice declares (see notifications.catalogue)."""
    language = language_of(delivery["language"])
    notice = delivery["notice"]
    stage = delivery["stage"]
    current = case.stage == stage  # the stage the message speaks of is still the case's
    decision = case.decision or case.proposed_disposition
    entry = policy.disposition(decision) if decision else None
    step = delivery["event"].removeprefix("deadline.")
    available: dict[str, Any] = {
        "recipient_name": recipient.name if recipient else label(language, "reporter"),
        "reference": case.reference,
        "unit": unit.name_en if language == "en" else unit.name_zh,
        "stage": label(language, stage),
        "event_time": local_text(event_at),
        "due": local_text(case.due_at) if current and case.due_at else label(language, "none"),
        "portal_url": portal_url,
        "receipt_code": None,  # filled in at sending, for the reporter's own mailbox only
        "reason": label(language, str(event_data.get("reason", "none"))),
        "capacity": label(language, str(event_data.get("capacity", "investigator"))),
        "statement_due": _when(case.statement_due_at, language),
        "returns": case.returns_count,
        "decision": entry.label.text(language) if entry else label(language, "no_sanction"),
        "appeal_ends": _when(case.appeal_window_ends_at, language),
        "step_label": _step_label(policy, step, language),
        "red_flag": any(s.step == step and s.flag == "red" for s in policy.escalation),
        "overdue_since": _when(_moment(event_data.get("overdue_since")), language),
        "due_on": str(event_data.get("due_on", label(language, "none"))),
        "granted": delivery["event"] == "grant_extension",
        "outcome": entry.label.text(language) if entry else label(language, "no_sanction"),
        "survey_url": f"{portal_url.rstrip('/')}/survey",
        "status_url": f"{portal_url.rstrip('/')}/status",
    }
    return {name: available[name] for name in COMMON | VARIABLES[notice]}


def _when(moment: Any, language: str) -> str:
    return local_text(moment) if moment else label(language, "none")


def _moment(text: object) -> datetime | None:
    """A time the event's data recorded (ISO text), if any."""
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _step_label(policy: Policy, step: str, language: str) -> str:
    """The ladder step's words in ``language`` (never its code, which is for machines)."""
    found = next((s for s in policy.escalation if s.step == step), None)
    return found.label.text(language) if found else label(language, "none")

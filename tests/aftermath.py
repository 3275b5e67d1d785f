"""What a load under kills must leave behind, checked on its database by URL (the crash
test's SQLite file, the scale-out run's PostgreSQL): nothing owed, each 2xx in its case's
chain once, each step fired once, each message arrived once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from cases.audit_state import FILED, STAFF_ACTIONS
from cases.procedure.labels import DEADLINE_EVENT
from tests.processes import PATIENCE
from tests.receivers import Mailbox, Received

# A subject has no address and the gateway takes only staff: their notices reach no one.
NO_CHANNEL = "no channel reaches this recipient"


@dataclass
class Answered:
    """One request of the load that got a 2xx, with what it returned."""

    case: int
    action: str  # the chain's name for it: case.filed, case.accept…
    key: str
    version: int
    reference: str
    replayed: bool  # a retry answered from the Idempotency-Key: its first try had committed


def rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows of one query (a SQLite file waits up to PATIENCE for a writer's lock)."""
    engine = create_engine(
        url, connect_args={"timeout": PATIENCE} if url.startswith("sqlite") else {}
    )
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def backlog(url: str) -> dict[str, Any]:
    """What is still owed: outbox rows not done by topic and state (less the notices no
    channel reaches), and steps due and pending."""
    now = datetime.now(UTC)
    due = rows(url, "SELECT due_at FROM deadline WHERE state = 'pending'")
    open_rows = rows(
        url,
        "SELECT topic, state, count(*) FROM outbox WHERE state != 'done'"
        " AND (state != 'dead' OR last_error NOT LIKE :none) GROUP BY topic, state",
        none=f"{NO_CHANNEL}%",
    )
    return {
        "outbox": {f"{topic} {state}": n for topic, state, n in open_rows},
        "steps due": sum(1 for (at,) in due if utc(at) <= now),
    }


def settled(url: str) -> bool:
    return backlog(url) == {"outbox": {}, "steps due": 0}


def messages(url: str) -> int:
    return len(rows(url, "SELECT key FROM outbox WHERE topic = 'message'"))


def check_chains(url: str, answered: Sequence[Answered], cases: int) -> None:
    """Each 2xx is its case's event at the version it returned, no event is extra, and
    there are ``cases`` cases."""
    found = dict(rows(url, "SELECT reference, id FROM conduct_case"))
    assert len(found) == cases
    for reference, case_id in found.items():
        versioned = [
            action
            for (action,) in rows(
                url, "SELECT action FROM audit_event WHERE case_id = :c ORDER BY seq", c=case_id
            )
            if action == FILED or action in STAFF_ACTIONS
        ]
        mine = sorted((a for a in answered if a.reference == reference), key=lambda a: a.version)
        assert [a.version for a in mine] == list(range(1, len(mine) + 1)), mine
        assert versioned == [a.action for a in mine], (reference, versioned)
        [(version,)] = rows(url, "SELECT version FROM conduct_case WHERE id = :c", c=case_id)
        assert version == len(mine)


def check_deadlines(url: str) -> None:
    """Each step fired (or skipped as late) has one event, and each step event one step."""
    steps = Counter(
        (case_id, stage, step, utc(due_at))
        for case_id, stage, step, due_at in rows(
            url,
            "SELECT case_id, stage, step, due_at FROM deadline"
            " WHERE state IN ('fired', 'skipped') AND fired_at IS NOT NULL",
        )
    )
    events: Counter[tuple[int, str, str, datetime]] = Counter()
    for case_id, data in rows(
        url, "SELECT case_id, data FROM audit_event WHERE action LIKE :d", d=f"{DEADLINE_EVENT}%"
    ):
        told = json.loads(data)
        if "step" in told:
            events[(case_id, told["stage"], told["step"], utc(told["due_at"]))] += 1
    [(fired,)] = rows(url, "SELECT count(*) FROM deadline WHERE state IN ('fired', 'skipped')")
    assert steps and sum(steps.values()) == fired  # every one has its fired_at
    assert steps == events and set(events.values()) == {1}, (steps - events, events - steps)


def check_messages(url: str, mailbox: Mailbox, hooks: list[Received]) -> None:
    """Every message row was sent, and arrived once by its key at its channel's receiver."""
    sent: dict[str, set[str]] = {"email": set(), "gateway": set()}
    for key, payload in rows(url, "SELECT key, payload FROM outbox WHERE topic = 'message'"):
        sent[json.loads(payload)["channel"]].add(key)
    mails = Counter(str(mail["X-Qingfeng-Key"]) for mail in mailbox.mails)
    webhooks = Counter(hook.headers["webhook-id"] for hook in hooks)
    assert sent["email"] and sent["gateway"]
    assert set(mails) == sent["email"] and set(mails.values()) == {1}, mails
    assert set(webhooks) == sent["gateway"] and set(webhooks.values()) == {1}, webhooks

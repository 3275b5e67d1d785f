"""After-commit signals: a transaction notes what it wrote; listeners hear of it once it
has committed (never after a rollback). Lets in-process workers (the deadline worker, the
outbox dispatchers) wake at once instead of at their next interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_INFO = "qingfeng.signals"
_listeners: dict[str, list[Callable[[Any], None]]] = {}


def note(session: Session, signal: str, value: Any, merge: Callable[[Any, Any], Any]) -> None:
    """Record ``value`` for ``signal`` in this transaction (combined with earlier ones)."""
    pending = session.info.setdefault(_INFO, {})
    pending[signal] = merge(pending[signal], value) if signal in pending else value


def listen(signal: str, listener: Callable[[Any], None]) -> Callable[[], None]:
    """Call ``listener`` with the signal's value after each commit that noted it.

    Returns a function that stops listening.
    """
    _listeners.setdefault(signal, []).append(listener)
    return lambda: _listeners[signal].remove(listener)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    for signal, value in session.info.pop(_INFO, {}).items():
        for listener in list(_listeners.get(signal, ())):
            listener(value)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_INFO, None)

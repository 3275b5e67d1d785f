"""`qingfeng outbox`: the notification outbox at the command line (dead letters, retry)."""

from __future__ import annotations

import typer
from rich.table import Table

from api.cli.common import out
from cases.procedure.errors import DomainError
from cases.store.db import Database, UnitOfWork
from cases.store.models import OutboxState
from config.settings import get_settings
from notifications import admin

outbox_app = typer.Typer(
    help="Notification messages: list, dead letters, retry.", no_args_is_help=True
)


def _db() -> Database:
    return Database(get_settings().effective_database_url, pool_size=2)


@outbox_app.command("list")
def list_(
    dead: bool = typer.Option(False, "--dead", help="Only messages that gave up."),
    state: str | None = typer.Option(None, help="pending, sending, done or dead."),
    limit: int = typer.Option(100, min=1, max=10_000),
) -> None:
    """Notification messages, oldest first."""
    db = _db()
    entries = admin.list_messages(
        uow=UnitOfWork(db, write=False),
        viewer=None,
        state=OutboxState.DEAD if dead else state,
        limit=limit,
    )
    db.dispose()
    table = Table("id", "case", "notice", "channel", "audience", "state", "tries", "last error")
    for e in entries:
        table.add_row(
            str(e.id),
            e.reference or "",
            e.notice or e.topic,
            e.channel or "",
            e.audience or "",
            e.state,
            str(e.attempts),
            e.last_error or "",
        )
    out.print(table if entries else "no messages")


@outbox_app.command("retry")
def retry(message_id: int = typer.Argument(..., help="The id shown by `outbox list`.")) -> None:
    """Queue a dead message again with fresh attempts."""
    db = _db()
    try:
        entry = admin.retry_message(uow=UnitOfWork(db), viewer=None, message_id=message_id)
    except DomainError as exc:
        out.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    out.print(f"message {entry.id} ({entry.notice or entry.topic}) queued again")

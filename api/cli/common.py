"""What every `qingfeng` command shares: the consoles, clean errors, the app state."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from api.cli.unit_files import UnitFileError
from api.http.app import build_state
from api.http.deps import AppState
from cases.deadlines.calendar import CalendarError
from cases.people import directory as people
from cases.procedure.errors import DomainError
from cases.procedure.policy import PolicyError
from cases.store.db import UnitOfWork
from cases.store.models import Person
from config.logging import configure_logging
from config.settings import get_settings
from notifications.routes import NotificationsError

out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def print_error(message: str) -> None:
    """One red ``error:`` line on stderr."""
    # Escaped: messages quote input and policy text, whose [brackets] are not markup.
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)


def fails_cleanly(fn: F) -> F:
    """Turn domain, policy and file errors into one clear line and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            where = f" (field: {exc.field})" if exc.field else ""
            print_error(f"{exc.detail}{where}")
        except (PolicyError, UnitFileError, CalendarError, NotificationsError) as exc:
            print_error(str(exc))
        except ValidationError as exc:
            for e in exc.errors():
                print_error(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
        raise typer.Exit(2)

    return wrapper  # type: ignore[return-value]


def load_state() -> AppState:
    """Logging configured, then the database, policy and calendar the API would use."""
    configure_logging(get_settings())
    return build_state(get_settings())


def person_as(state: AppState, handle: str) -> Person:
    """The person named by ``--as``."""
    with UnitOfWork(state.db, write=False) as uow:
        person = people.person_by_handle(uow.session, handle, field="--as")
    return person

"""`qingfeng backup` and `qingfeng restore`: the case database into one file and back.

A backup is taken while the service runs (it is consistent: SQLite's online backup,
pg_dump's snapshot). A restore refuses while the service runs, and ends by verifying the
audit trail of what it restored (the checks of `qingfeng audit verify`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import typer

from api.cli.common import err, fails_cleanly, out, print_error
from cases import audit
from cases.audit_state import state_problems
from cases.procedure.clock import utcnow
from cases.store import backup as store
from cases.store.db import Database, UnitOfWork
from config.settings import Settings, get_settings

UP_LOCK = "up.lock"  # in data_dir/run: held by `qingfeng up` while it serves


@contextlib.contextmanager
def service_lock(settings: Settings) -> Iterator[None]:
    """Held by `qingfeng up` for as long as it serves: `restore` refuses while it is."""
    path = settings.data_dir / "run" / UP_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:  # not inherited by children: it ends with `up` itself
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print_error(f"{settings.data_dir}: another `qingfeng up` is serving this data")
            raise typer.Exit(2) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def service_running(settings: Settings) -> str | None:
    """Why the service looks to be running on this data directory, or None."""
    run = settings.data_dir / "run"
    lock = run / UP_LOCK
    if lock.exists():
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                return f"`qingfeng up` holds {lock}"
    for status in sorted(run.glob("*.status")) if run.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            pid = int(status.read_text().split()[0])
            if _alive(pid):
                return f"`qingfeng {status.stem}` (pid {pid}) is running ({status})"
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    with contextlib.suppress(httpx.HTTPError):
        url = f"http://{host}:{settings.port}/healthz"
        if httpx.get(url, timeout=2).status_code == 200:
            return f"the API answers on {url}"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def verify(url: str) -> list[str]:
    """The problems `qingfeng audit verify` would report on the database at ``url``."""
    db = Database(url, pool_size=2)
    try:
        with UnitOfWork(db, write=False) as uow:
            report = audit.verify(uow.session)
            differences = state_problems(uow.session)
    finally:
        db.dispose()
    problems = [f"BROKEN: {report.problem}"] if report.problem else []
    return problems + [f"CHANGED: {difference}" for difference in differences]


@fails_cleanly
def backup(
    out_file: Annotated[Path, typer.Option("--out", help="The backup file to write.")],
) -> None:
    """Back up the case database into one file (safe while the service runs)."""
    settings = get_settings()
    url = settings.effective_database_url
    try:
        manifest = store.backup(url, out_file, now=utcnow())
    except store.BackupError as exc:
        print_error(str(exc))
        raise typer.Exit(2) from exc
    out.print(
        f"backed up {store.describe(url)} to {out_file} ({manifest.size} bytes, "
        f"schema {manifest.revision}, sha256 {manifest.sha256[:16]}…)",
        highlight=False,
    )


@fails_cleanly
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `qingfeng backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace without asking.")] = False,
) -> None:
    """Replace the case database with a backup (the service must be stopped), then verify
    the audit trail of what was restored."""
    settings = get_settings()
    url = settings.effective_database_url
    try:
        manifest = store.read_manifest(file)
        store.check_restorable(file, manifest, url)
        running = service_running(settings)
        if running:
            raise store.BackupError(file, f"not restored: the service is running ({running})")
        if not yes:
            typer.confirm(
                f"replace the database {store.describe(url)} with {file} "
                f"(taken {manifest.created_at}, schema {manifest.revision})?",
                abort=True,
            )
        restored = store.restore(url, file)
    except store.BackupError as exc:
        print_error(str(exc))
        raise typer.Exit(2) from exc
    kept = f" (the previous one kept as {restored.kept})" if restored.kept else ""
    out.print(f"restored {file} into {store.describe(url)}{kept}", highlight=False)
    problems = verify(url)
    if problems:
        for problem in problems:
            err.print(problem, highlight=False)
        raise typer.Exit(1)
    out.print("audit verify: OK (every chain, checkpoint and case row checks out)")

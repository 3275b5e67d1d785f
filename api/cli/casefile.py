"""`qingfeng casefile`: export a closed case's file (案卷), check one offline, show the key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import err, fails_cleanly, load_state, out, person_as, print_error
from cases.papers.casefile import export_casefile
from cases.papers.casefile_zip import fingerprint, signing_key, verify_archive
from cases.store.db import UnitOfWork
from config.settings import get_settings

casefile_app = typer.Typer(help="Case files (案卷) of closed cases.", no_args_is_help=True)


@casefile_app.command("export")
@fails_cleanly
def casefile_export(
    reference: str,
    out_file: Annotated[Path, typer.Option("--out", help="The zip to write")],
    as_: Annotated[str, typer.Option("--as", help="Who exports (a casefile role)")],
) -> None:
    """Write a closed case's file as a signed zip (the export is audited)."""
    state = load_state()
    archive = export_casefile(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        actor=person_as(state, as_),
        reference=reference,
        data_dir=state.settings.data_dir,
        committee=state.settings.committee_name,
    )
    partial = out_file.with_name(f".{out_file.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # personal data
    with os.fdopen(fd, "wb") as written:
        written.write(archive)
    partial.replace(out_file)
    out.print(f"{reference}: case file written to {out_file} ({len(archive)} bytes)")


@casefile_app.command("verify")
def casefile_verify(
    file: Annotated[Path, typer.Argument(help="The case file's zip")],
    key_fingerprint: Annotated[
        str | None,
        typer.Option(help="The committee's key fingerprint (`qingfeng casefile key`)"),
    ] = None,
) -> None:
    """Check a case file offline: signature, every member's SHA-256, the audit chain."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        print_error(f"{file}: cannot read: {exc.strerror}")
        raise typer.Exit(2) from exc
    check = verify_archive(data, expected_fingerprint=key_fingerprint)
    if check.fingerprint:
        out.print(f"signed with key {check.fingerprint}", highlight=False, soft_wrap=True)
        if key_fingerprint is None:
            out.print("compare it with the committee's: `qingfeng casefile key`", highlight=False)
    if check.ok:
        out.print(
            f"OK: {check.reference}, {check.members} members, "
            f"{check.events} audit events chained to the manifest's head",
            highlight=False,
        )
        return
    for problem in check.problems:
        err.print(f"BROKEN: {problem}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1)


@casefile_app.command("key")
def casefile_key() -> None:
    """Print the fingerprint of the key that signs case files (made on first use)."""
    key = signing_key(get_settings().data_dir)
    out.print(fingerprint(key.public_key()), highlight=False, soft_wrap=True)

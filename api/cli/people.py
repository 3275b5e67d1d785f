"""`qingfeng users` and `qingfeng units`: people, roles, tokens and the org tree."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import fails_cleanly, load_state, out
from api.cli.unit_files import read_units
from cases.people import directory as people
from cases.people.contacts import ContactChanges, update_person
from cases.people.sessions import set_password
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork

users_app = typer.Typer(help="People, roles and tokens.", no_args_is_help=True)
units_app = typer.Typer(help="Organisation units.", no_args_is_help=True)


def _role(value: str) -> tuple[Role, str]:
    role, _, unit = value.partition("@")
    try:
        return Role(role), unit
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r}: role must be one of {', '.join(r.value for r in Role)}"
        ) from exc


@users_app.command("add")
@fails_cleanly
def users_add(
    handle: str,
    name: Annotated[str, typer.Option(help="Full name.")],
    unit: Annotated[str | None, typer.Option(help="Home unit code.")] = None,
    role: Annotated[list[str] | None, typer.Option(help="ROLE@UNIT, repeatable.")] = None,
    email: str | None = None,
    language: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    token: Annotated[bool, typer.Option(help="Also create a personal access token.")] = False,
) -> None:
    """Add a person with roles (e.g. --role investigator@league)."""
    state = load_state()
    grants = [_role(r) for r in role or []]
    missing = [f"{r}@?" for r, u in grants if not u]
    if missing:
        raise typer.BadParameter(f"give a unit: {', '.join(missing)}", param_hint="--role")
    _, secret = people.add_person(
        uow=UnitOfWork(state.db),
        handle=handle,
        name=name,
        unit=unit,
        roles=grants,
        email=email,
        language=language,
        with_token=token,
    )
    out.print(f"added {handle}")
    if secret:
        out.print(f"token (shown once): {secret}", highlight=False)


@users_app.command("update")
@fails_cleanly
def users_update(
    handle: str,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    email: Annotated[str | None, typer.Option(help="Email address; '' clears it.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number; '' clears it.")] = None,
    language: Annotated[str | None, typer.Option(help="zh-CN or en")] = None,
) -> None:
    """Add or correct a person's name, email, phone or language (e.g. a reported subject's)."""
    changes = ContactChanges(name=name, email=email, phone=phone, language=language)
    update_person(uow=UnitOfWork(load_state().db), by=None, handle=handle, changes=changes)
    out.print(f"updated {handle}")


@users_app.command("token")
@fails_cleanly
def users_token(handle: str, name: Annotated[str, typer.Option()] = "cli") -> None:
    """Create a personal access token for a person."""
    uow = UnitOfWork(load_state().db)
    public_id, token = people.create_token(uow=uow, handle=handle, name=name)
    out.print(f"token {public_id} (shown once): {token}", highlight=False)


@users_app.command("revoke")
@fails_cleanly
def users_revoke(token_id: str) -> None:
    """Revoke a token by its id (the part after 'qf_')."""
    people.revoke(uow=UnitOfWork(load_state().db), public_id=token_id)
    out.print(f"revoked {token_id}")


@users_app.command("password")
@fails_cleanly
def users_password(
    handle: str,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a staff member's console password (asked twice, or read from --stdin); it ends
    their open sessions."""
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    set_password(uow=UnitOfWork(load_state().db), handle=handle, password=password)
    out.print(f"password set for {handle}")


@users_app.command("relate")
@fails_cleanly
def users_relate(handle: str, other: str, kind: Annotated[str, typer.Option()]) -> None:
    """Declare a relationship (roommate, relative…) that blocks assignment to each other's cases."""
    uow = UnitOfWork(load_state().db)
    people.declare_relationship(uow=uow, handle=handle, other=other, kind=kind)
    out.print(f"recorded: {handle} ~ {other} ({kind})")


@units_app.command("import")
@fails_cleanly
def units_import(path: Path) -> None:
    """Import the org tree from CSV (code,name_zh,name_en,parent) or YAML (a list of units)."""
    specs = read_units(path)
    created = people.import_units(uow=UnitOfWork(load_state().db), specs=specs)
    out.print(f"{len(specs)} units read, {created} new")

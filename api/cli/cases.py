"""`qingfeng cases`: show, file and act on a case at the command line."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from pydantic import TypeAdapter

from api.cli.common import fails_cleanly, load_state, out, person_as
from api.http.deps import AppState
from cases import service
from cases.evidence_files import evidence_store
from cases.people.secrets import receipt_code
from cases.procedure.commands import COMMANDS, Attachment, Command, FileReport, RecordEvidence
from cases.procedure.errors import InvalidInput
from cases.procedure.vocabulary import Action
from cases.store.db import UnitOfWork
from cases.subject_view import SubjectCaseView
from cases.views import CaseDetail

cases_app = typer.Typer(help="Look at and act on cases.", no_args_is_help=True)


@cases_app.command("show")
@fails_cleanly
def cases_show(
    reference: str,
    as_: Annotated[str, typer.Option("--as", help="Viewer handle")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a case as a person sees it (the read is audited)."""
    state = load_state()
    case = service.read_case(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        reference=reference,
        viewer=person_as(state, as_),
    )
    if as_json:
        out.print_json(case.model_dump_json())
        return
    out.print(
        f"[bold]{case.reference}[/bold]  stage={case.stage}  version={case.version}  "
        f"unit={case.unit}  due={case.due_at:%Y-%m-%d %H:%M}Z"
        if case.due_at
        else f"[bold]{case.reference}[/bold]  stage={case.stage}  version={case.version}"
    )
    if isinstance(case, SubjectCaseView):  # the subject's own view: no summary, no actors
        _print_subject_view(case)
    else:
        _print_case_file(case)
    out.print(f"allowed now: {', '.join(case.allowed_actions) or '-'}")


def _print_subject_view(case: SubjectCaseView) -> None:
    out.print(f"allegations: {case.allegations or '-'}")
    for told in case.events:
        out.print(f"  {told.at:%Y-%m-%d %H:%M} {told.action}", highlight=False)


def _print_case_file(case: CaseDetail) -> None:
    out.print(f"summary: {case.summary}")
    for entry in case.timeline:
        out.print(
            f"  {entry.seq:3} {entry.at:%Y-%m-%d %H:%M} {entry.action:22} {entry.actor or '-'}",
            highlight=False,
        )


@cases_app.command("file")
@fails_cleanly
def cases_file(
    data: Annotated[str, typer.Option(help="The report as JSON")],
    as_: Annotated[str | None, typer.Option("--as")] = None,
) -> None:
    """File a report from the command line; prints the reference and receipt code."""
    state = load_state()
    code = receipt_code()
    filed = service.file_report(
        uow=UnitOfWork(state.db),
        policy=state.policy,
        report=FileReport.model_validate_json(data),
        reporter=person_as(state, as_) if as_ else None,
        receipt_code=code,
    )
    out.print(f"{filed.reference} filed; receipt code (shown once): {code}", highlight=False)


@cases_app.command("act")
@fails_cleanly
def cases_act(
    reference: str,
    action: Action,
    as_: Annotated[str, typer.Option("--as", help="Actor handle")],
    data: Annotated[str, typer.Option(help="Command fields as JSON")] = "{}",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="record_evidence: the file to store", exists=True, dir_okay=False
        ),
    ] = None,
) -> None:
    """Carry out a staff action as a person, e.g. `cases act QF-2026-00001 accept --as inv.wang`."""
    state = load_state()
    command = TypeAdapter(COMMANDS[action]).validate_python(json.loads(data))
    with contextlib.ExitStack() as opened:
        if file is not None:
            command = _with_file(command, opened.enter_context(file.open("rb")), file, state)
        case = service.apply_action(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=reference,
            actor=person_as(state, as_),
            command=command,
        )
    out.print(
        f"{case.reference}: stage={case.stage} version={case.version}; "
        f"allowed now: {', '.join(case.allowed_actions) or '-'}"
    )


def _with_file(command: Command, content: BinaryIO, path: Path, state: AppState) -> Command:
    """``record_evidence`` with the file to store (named after it unless --data names it)."""
    if not isinstance(command, RecordEvidence):
        raise InvalidInput("only record_evidence takes a file", field="--file")
    named = command if command.filename else command.model_copy(update={"filename": path.name})
    return named.with_file(Attachment(content, evidence_store(state.settings.data_dir)))

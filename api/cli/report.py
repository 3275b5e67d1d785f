"""`qingfeng report`: the 述职考评 figures of a period as JSON, CSV, XLSX or PDF.

Who reads: without ``--as``, the operator at the shell, who has the database already and
reads what an admin reads (as ``users`` and ``units`` act for the operator); with
``--as HANDLE``, that person, with their access (an investigator: their own figures only).
The file appears whole or not at all: written beside its place, then renamed."""

from __future__ import annotations

import os
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TaskID

from api.cli.common import err, fails_cleanly, load_state, out, person_as
from cases.metrics.events import Period
from cases.metrics.exports.csvfile import csv_bytes
from cases.metrics.exports.period import FORMS, parse_period, period_name
from cases.metrics.exports.tables import tables
from cases.metrics.exports.workbook import workbook_bytes
from cases.metrics.service import MetricsReport, Phase, metrics
from cases.papers.report import report_pdf
from cases.procedure.clock import utcnow
from cases.procedure.errors import InvalidInput
from cases.procedure.policy import Policy
from cases.store.db import UnitOfWork

STDOUT = "-"


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


STEPS = {
    Phase.READING: "bringing the figure rows up to date",
    Phase.COMPUTING: "computing the figures",
    Phase.UNITS: "each unit",
}


class _Shown:
    """The service's phases as rich progress bars on stderr, each finished as the next begins."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def step(self, name: str, done: int, total: int) -> None:
        for other, task in self.tasks.items():
            if other != name:
                self.progress.update(task, completed=self.progress.tasks[task].total)
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total)
        self.progress.update(self.tasks[name], completed=done, total=total)

    def __call__(self, phase: Phase, done: int, total: int) -> None:
        self.step(STEPS[phase], done, total)


def render(
    report: MetricsReport, *, form: Format, policy: Policy, language: str, committee: str
) -> bytes:
    """The report as the bytes of a file of ``form``."""
    if form is Format.JSON:  # the same JSON as GET /performance
        return report.model_dump_json(by_alias=True, indent=2).encode("utf-8") + b"\n"
    if form is Format.PDF:
        return report_pdf(
            report, policy=policy, language=language, committee=committee, created=utcnow()
        )
    laid_out = tables(report, policy=policy, language=language, committee=committee)
    if form is Format.CSV:
        return csv_bytes(laid_out)
    return workbook_bytes(laid_out, language=language)


def _target(given: Path | None, form: Format, period: Period, unit: str | None,
            investigator: str | None) -> Path | None:  # fmt: skip
    """Where the file goes (None: stdout), checked before anything is read."""
    if given is not None and str(given) == STDOUT:
        if form in (Format.XLSX, Format.PDF):
            raise InvalidInput(f"a {form} file cannot go to stdout: name a file", field="--out")
        return None
    named = "-".join(p for p in ("report", period_name(period), unit, investigator) if p)
    target = given or Path(f"{named}.{form}")
    if not target.parent.is_dir():
        raise InvalidInput(f"{target.parent}: no such directory", field="--out")
    return target


def write_whole(target: Path, data: bytes) -> None:
    """``data`` as ``target``: into a temporary file beside it, then renamed over it."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise InvalidInput(f"{target}: {exc.strerror}", field="--out") from exc


@fails_cleanly
def report(
    period: Annotated[str, typer.Option(help=f"The period: {FORMS}.")],
    unit: Annotated[
        str | None, typer.Option(help="Unit code (with the units under it); default: all.")
    ] = None,
    investigator: Annotated[
        str | None, typer.Option(help="Only the cases of this investigator (a handle).")
    ] = None,
    form: Annotated[Format, typer.Option("--format", help="The kind of file.")] = Format.PDF,
    to: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The file ('-': stdout, json and csv); default: "
            "report-PERIOD[-UNIT][-INVESTIGATOR].FORMAT here.",
        ),
    ] = None,
    language: Annotated[Language, typer.Option("--lang", help="Language of the words.")] = (
        Language.ZH_CN
    ),
    as_: Annotated[
        str | None,
        typer.Option("--as", help="Read as this person; default: the operator (as an admin)."),
    ] = None,
) -> None:
    """The 述职考评 figures of a period, each with its definition, as a file."""
    chosen = parse_period(period)
    target = _target(to, form, chosen, unit, investigator)
    state = load_state()
    viewer = person_as(state, as_) if as_ else None
    with Progress(console=err, transient=True) as progress:
        shown = _Shown(progress)
        figures = metrics(
            uow=UnitOfWork(state.db, write=False), policy=state.policy, period=chosen,
            viewer=viewer, unit=unit, investigator=investigator, progress=shown,
        )  # fmt: skip
        shown.step(f"writing {form}", 0, 1)
        data = render(figures, form=form, policy=state.policy, language=language,
                      committee=state.settings.committee_name)  # fmt: skip
        if target is not None:
            write_whole(target, data)
        shown.step(f"writing {form}", 1, 1)
    if target is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    out.print(f"wrote {target} ({len(data)} bytes)", highlight=False)

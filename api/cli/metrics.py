"""`qingfeng metrics`: the 述职 figures' projection (cases.metrics.projection)."""

from __future__ import annotations

import typer
from rich.progress import Progress

from api.cli.common import err, fails_cleanly, load_state, out
from cases.deadlines.calendar import current
from cases.metrics import projection

metrics_app = typer.Typer(help="The 述职 figures' projection.", no_args_is_help=True)


@metrics_app.command()
@fails_cleanly
def rebuild() -> None:
    """Write every case's figure rows again from its audit chain (safe while running)."""
    state = load_state()
    with Progress(console=err, transient=True) as shown:
        task = shown.add_task("cases", total=None)
        count = projection.rebuild(
            db=state.db,
            policy=state.policy,
            calendar=current(),
            progress=lambda done, total: shown.update(task, completed=done, total=total),
        )
    out.print(f"figure rows written again for {count} cases")


@metrics_app.command()
@fails_cleanly
def pending() -> None:
    """How many cases' figure rows are still to be written (the worker writes them)."""
    out.print(f"{projection.pending(load_state().db)} cases pending")

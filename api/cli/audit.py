"""`qingfeng audit`: verify the tamper-evident trail, or checkpoint it now."""

from __future__ import annotations

import typer

from api.cli.common import err, fails_cleanly, load_state, out
from cases import audit
from cases.audit_state import state_problems
from cases.store.db import UnitOfWork

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
@fails_cleanly
def audit_verify() -> None:
    """Check every hash chain and checkpoint, and every case's row against its chain;
    report OK, or the first broken row and each case that differs from its events."""
    with UnitOfWork(load_state().db, write=False) as uow:
        report = audit.verify(uow.session)
        differences = state_problems(uow.session)
    if report.ok and not differences:
        out.print(
            f"OK: {report.events} events in {report.chains} chains, "
            f"{report.checkpoints} checkpoints; every case's row matches its events"
        )
        return
    if report.problem:
        err.print(f"BROKEN: {report.problem}", highlight=False)
    for difference in differences:
        err.print(f"CHANGED: {difference}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
@fails_cleanly
def audit_checkpoint() -> None:
    """Append a checkpoint now (the running service does this on an interval)."""
    from api.stack.services import checkpoint_audit

    checkpoint_audit(load_state())
    out.print("checkpoint written (if any chain moved)")

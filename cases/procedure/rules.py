"""Evaluating the TRANSITIONS table for one actor: who, guards, the next stage."""

from __future__ import annotations

from cases.procedure.errors import DomainError, Forbidden, GuardFailed, SeparationOfDuties
from cases.procedure.guards import ActionContext
from cases.procedure.machine import TRANSITIONS, Branch, Rule
from cases.procedure.vocabulary import Stage


def check_rule(ctx: ActionContext, rule: Rule, action: str) -> None:
    """Raise unless ``ctx.actor`` is who the rule names and every guard holds."""
    if not rule.who(ctx):
        raise Forbidden(f"'{action}' may only be done by {rule.who.text}", who=rule.who.name)
    for guard in rule.guards:
        reason = guard(ctx)
        if reason is not None:
            if guard.separation_of_duties:
                raise SeparationOfDuties(reason, rule=guard.name)
            raise GuardFailed(reason, guard=guard.name)


def permitted_actions(ctx: ActionContext) -> list[str]:
    """The actions ``ctx.actor`` may take on the case right now (who and guards hold)."""
    stage = Stage(ctx.case.stage)
    permitted = []
    for (at, action), rule in TRANSITIONS.items():
        if at is not stage:
            continue
        try:
            check_rule(ctx, rule, action)
        except DomainError:
            continue
        permitted.append(action.value)
    return sorted(permitted)


def next_stage(rule: Rule, ctx: ActionContext) -> Stage | None:
    """Where the rule leads for this case (a Branch decides on the case's state)."""
    if isinstance(rule.to, Branch):
        return rule.to.then if rule.to.when(ctx) else rule.to.otherwise
    return rule.to

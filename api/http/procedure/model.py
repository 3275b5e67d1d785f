"""The TRANSITIONS table read out as data: what the procedure page and /procedure.json show.

Nothing here is decided anew: each row is one entry of ``cases.procedure.machine``, in its
order, with the words for its stage, action, actor predicate, guards and next stage.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from api.http.procedure.texts import CONDITIONS, GUARDS, WHO
from cases.procedure.labels import ACTIONS_DONE, STAGES
from cases.procedure.machine import TRANSITIONS, Branch, Rule
from cases.procedure.policy import Label
from cases.procedure.vocabulary import Action, Stage


class Named(BaseModel):
    code: str = Field(description="The name the table, refusals and the audit trail use.")
    label: Label = Field(description="Its words in zh-CN and en.")


class GuardView(Named):
    separation_of_duties: bool = Field(description="A separation-of-duties (回避) rule.")


class Leads(StrEnum):
    STAGE = "stage"  # to one stage
    STAY = "stay"  # the case stays in its stage
    BRANCH = "branch"  # to ``then`` when ``when`` holds, otherwise to ``otherwise``


class LeadsTo(BaseModel):
    kind: Leads
    stage: str | None = Field(None, description="The next stage (kind stage).")
    when: Named | None = Field(None, description="The condition (kind branch).")
    then: str | None = Field(None, description="The stage when the condition holds.")
    otherwise: str | None = Field(None, description="The stage when it does not.")

    def targets(self, here: Stage) -> list[Stage]:
        """The stages the action may lead to from ``here`` (``here`` itself to stay)."""
        if self.kind is Leads.STAY:
            return [here]
        if self.kind is Leads.STAGE:
            return [Stage(self.stage or here)]
        return [Stage(self.then or here), Stage(self.otherwise or here)]


class TransitionView(BaseModel):
    stage: str
    action: Named
    who: Named = Field(description="Who may take the action (the rule's actor predicate).")
    guards: list[GuardView] = Field(description="Every condition that must hold, in order.")
    to: LeadsTo


class ProcedureView(BaseModel):
    """The stage machine: every stage and every (stage, action) rule of the table."""

    stages: list[Named]
    transitions: list[TransitionView]


def _leads(rule: Rule) -> LeadsTo:
    if rule.to is None:
        return LeadsTo(kind=Leads.STAY)
    if isinstance(rule.to, Branch):
        when = Named(code=rule.to.when.name, label=CONDITIONS[rule.to.when.name])
        return LeadsTo(kind=Leads.BRANCH, when=when, then=rule.to.then, otherwise=rule.to.otherwise)
    return LeadsTo(kind=Leads.STAGE, stage=rule.to)


def _row(stage: Stage, action: Action, rule: Rule) -> TransitionView:
    return TransitionView(
        stage=stage,
        action=Named(code=action, label=ACTIONS_DONE[action]),
        who=Named(code=rule.who.name, label=WHO[rule.who.name]),
        guards=[
            GuardView(
                code=g.name, label=GUARDS[g.name], separation_of_duties=g.separation_of_duties
            )
            for g in rule.guards
        ],
        to=_leads(rule),
    )


def procedure_view() -> ProcedureView:
    """Every stage, then every rule of the table grouped by stage (the table's order within)."""
    order = list(Stage)
    rows = sorted(TRANSITIONS.items(), key=lambda item: order.index(item[0][0]))
    return ProcedureView(
        stages=[Named(code=stage, label=STAGES[stage]) for stage in Stage],
        transitions=[_row(stage, action, rule) for (stage, action), rule in rows],
    )

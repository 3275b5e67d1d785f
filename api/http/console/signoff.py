"""The advisor's sign-off pages: the proposals waiting for them, and one proposal with its
findings and verification side by side, signed, co-signed or refused through apply_action.

The case page opens for the case's advisor (the TRANSITIONS table's ``case_advisor``) and
for a secretary over the case (who co-signs from it); anyone else, and a case out of scope,
is 404. Reading it is audited (service.read_case); its forms are exactly the actions
``permitted_actions`` allows the viewer now, each carrying the case version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from api.http.console import acting
from api.http.console.acting import posted
from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, language_of
from cases.board import proposal_of, proposals_to_sign
from cases.procedure.errors import NotFound
from cases.procedure.labels import stage_label
from cases.procedure.vocabulary import Action
from cases.service import read_case
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.views import CaseDetail, TimelineEntry

router = APIRouter(include_in_schema=False)
# The page's forms (each one text field: comment, or comments for refuse).
FORMS = (Action.SIGN_OFF, Action.CO_SIGN, Action.REFUSE)


@dataclass(frozen=True)
class Verification:
    """What the timeline says of verification: the last confirmation, every return."""

    confirmed: TimelineEntry | None
    returns: list[TimelineEntry]
    refusals: list[TimelineEntry]
    signed: TimelineEntry | None
    names: dict[str, str] = field(default_factory=dict)  # handle -> name

    def who(self, entry: TimelineEntry) -> str:
        return self.names.get(entry.actor or "", entry.actor or "—")


def verification_of(detail: CaseDetail) -> Verification:
    """The verification facts beside the findings, read from the case's timeline."""
    events = detail.timeline
    proposed = [e for e in events if e.action == f"case.{Action.PROPOSE}"]
    since = proposed[-1].seq if proposed else 0
    signed = [e for e in events if e.action == f"case.{Action.SIGN_OFF}" and e.seq > since]
    return Verification(
        confirmed=next((e for e in reversed(events) if e.action == f"case.{Action.CONFIRM}"), None),
        returns=[e for e in events if e.action == f"case.{Action.RETURN_FINDINGS}"],
        refusals=[e for e in events if e.action == f"case.{Action.REFUSE}"],
        signed=signed[-1] if signed and detail.advisor_signed else None,
        names={p.person: p.name for p in detail.parties},
    )


def _missing(request: Request, staff: Person) -> HTMLResponse:
    return page(request, "signoff_missing.html", staff=staff, status_code=404)


@router.get("/console/signoff", response_class=HTMLResponse)
def signoff_list(request: Request, staff: StaffUser) -> HTMLResponse:
    state = app_state(request)
    waiting = proposals_to_sign(
        uow=UnitOfWork(state.db, write=False), viewer=staff, policy=state.policy
    )
    labels = {d.code: d.label.text(language_of(request)) for d in state.policy.dispositions}
    return page(request, "signoff_list.html", staff=staff, waiting=waiting, labels=labels)


def _case_page(
    request: Request, staff: Person, reference: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """The sign-off page of ``reference`` (404 for anyone but its advisor or a secretary)."""
    state = app_state(request)
    try:
        proposal = proposal_of(
            uow=UnitOfWork(state.db, write=False),
            viewer=staff,
            policy=state.policy,
            reference=reference,
        )
        detail = read_case(
            uow=UnitOfWork(state.db), policy=state.policy, reference=reference, viewer=staff
        )
    except NotFound:
        return _missing(request, staff)
    if not isinstance(detail, CaseDetail):  # the subject's own view: not this page
        return _missing(request, staff)
    disposition = state.policy.disposition(detail.proposed_disposition or "")
    recommended = state.policy.disposition(detail.recommended_disposition or "")
    context.setdefault("values", {})
    return page(
        request,
        "signoff_case.html",
        staff=staff,
        status_code=status,
        case=detail,
        proposal=proposal,
        disposition=disposition,
        recommended=recommended,
        verification=verification_of(detail),
        policy=state.policy,
        stage_label=stage_label,
        forms=[a for a in FORMS if a.value in detail.allowed_actions],
        **context,
    )


@router.get("/console/signoff/{reference}", response_class=HTMLResponse)
def signoff_case(request: Request, staff: StaffUser, reference: str) -> HTMLResponse:
    done = request.query_params.get("done")
    notice = text(request, f"signoff.done.{done}") if done in {a.value for a in FORMS} else ""
    return _case_page(request, staff, reference, done=notice)


async def _act(
    request: Request, staff: Person, reference: str, action: Action, sent: FormData
) -> Response:
    """Carry out ``action`` from its form; the page again with the message when refused."""
    try:
        refusal = await acting.act(request, staff, reference, action, sent)
    except NotFound:
        return await run_in_threadpool(_missing, request, staff)
    if refusal is None:
        return RedirectResponse(f"/console/signoff/{reference}?done={action}", status_code=303)
    again = refusal.keyed(f"{action}.")
    return await run_in_threadpool(_case_page, request, staff, reference, **again)


@router.post("/console/signoff/{reference}/{action}", response_class=HTMLResponse)
async def signoff_submit(
    request: Request, staff: StaffUser, reference: str, action: str
) -> Response:
    if action not in {a.value for a in FORMS}:
        return await run_in_threadpool(_missing, request, staff)
    sent = await request.form()
    if not form_token_ok(request, posted(sent, "form_token")):
        notice = text(request, "signoff.expired")
        return await run_in_threadpool(
            _case_page, request, staff, reference, status=403, notice=notice
        )
    return await _act(request, staff, reference, Action(action), sent)

"""The case page (/console/cases/{reference}): the case file through ``read_case`` (so
the read is audited like GET /cases/{ref}), its messages with the reporter for those
who may read them, and one form per action ``permitted_actions`` allows now, posted to
/console/cases/{ref}/{action-path} and carried out by ``apply_action`` with the version
the page showed. Evidence downloads and the due-date explanation: case_files.py."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.http.console import acting, case_files, inbox
from api.http.console.acting import posted
from api.http.console.action_forms import FILE_FIELD, ActionForm, action_of_path, form_for
from api.http.console.render import page, text
from api.http.console.session import StaffUser
from api.http.deps import app_state
from api.http.pages.render import field_errors, form_token_ok, language_of
from api.http.uploads import refuse_oversized
from cases import messages, service
from cases.messages import NewMessage
from cases.people.directory import unit_choices
from cases.procedure.errors import DomainError, Forbidden, NotFound
from cases.procedure.labels import event_label, stage_label
from cases.procedure.vocabulary import Action, Stage
from cases.queries import staff_choices
from cases.store.db import UnitOfWork
from cases.store.models import Person
from cases.store.reporter_side import CaseMessage
from cases.views import CaseDetail

router = APIRouter(include_in_schema=False)
router.include_router(case_files.router)
router.include_router(inbox.router)
REFERENCE = re.compile(r"^QF-\d{4}-[A-Z0-9]{1,12}$")


@dataclass(frozen=True)
class Trouble:
    """What went wrong with a post: which form, its messages, what was typed, a status."""

    action: str = ""
    notice: str = ""
    errors: dict[str, str] | None = None
    values: dict[str, Any] | None = None
    status: int = 200


def prefect_runs(request: Request, reference: str) -> str:
    """The Prefect UI's flow-run list filtered by the case's tag (``case:<reference>``)."""
    api = os.environ.get("PREFECT_API_URL") or (
        f"http://127.0.0.1:{app_state(request).settings.prefect_port}/api"
    )
    return f"{api.removesuffix('/').removesuffix('/api')}/runs?tag={quote(f'case:{reference}')}"


def not_found(request: Request, staff: Person) -> HTMLResponse:
    """A case that does not exist and one outside the viewer's scope: the same page."""
    return page(request, "case_missing.html", staff=staff, status_code=404)


def _read(request: Request, staff: Person, reference: str) -> dict[str, Any]:
    state = app_state(request)
    detail = service.read_case(
        uow=UnitOfWork(state.db), policy=state.policy, reference=reference, viewer=staff
    )
    if not isinstance(detail, CaseDetail):  # their own case: the subject's page, not here
        raise NotFound(f"no case {reference}", field="reference")
    try:
        letters: list[CaseMessage] | None = messages.team_messages(
            uow=UnitOfWork(state.db, write=False), reference=reference, viewer=staff
        )
    except Forbidden:
        letters = None
    language = language_of(request)
    labels = {
        "stage": stage_label(detail.stage, language),
        "category": _code_words(state.policy.categories, detail.category, language),
        "severity": _code_words(state.policy.severities, detail.severity, language),
        "events": {e.seq: event_label(e.action, language, state.policy) for e in detail.timeline},
        "dispositions": {d.code: d.label.text(language) for d in state.policy.dispositions},
        "stages": {s.value: stage_label(s, language) for s in Stage},
        "steps": {
            e.step: e.label.text(language) if e.label else e.step for e in state.policy.escalation
        },
        "missing": "、".join(_missing_words(request, detail.triage.missing)),
        "unit": next(
            (
                u.name_en if language == "en" else u.name_zh
                for u in unit_choices(uow=UnitOfWork(state.db, write=False))
                if u.code == detail.unit
            ),
            detail.unit,
        ),
    }
    return {
        "case": detail,
        "letters": letters,
        "labels": labels,
        "forms": _forms(request, detail),
        "runs_url": prefect_runs(request, detail.reference),
    }


def _missing_words(request: Request, missing: list[str]) -> list[str]:
    known = ("category", "details", "contact")
    return [text(request, f"case.missing.{m}") if m in known else m for m in missing]


def _code_words(entries: list[Any], code: str | None, language: str) -> str:
    found = next((e for e in entries if e.code == code), None)
    return found.label.text(language) if found else (code or "—")


def _forms(request: Request, detail: CaseDetail) -> list[ActionForm]:
    state = app_state(request)
    staff = staff_choices(uow=UnitOfWork(state.db, write=False))
    language = language_of(request)
    words = dict(t=lambda key: text(request, key))
    return [
        form_for(Action(a), policy=state.policy, staff=staff, language=language, **words)
        for a in detail.allowed_actions
    ]


async def _case_page(
    request: Request, staff: Person, reference: str, trouble: Trouble = Trouble()
) -> HTMLResponse:
    try:
        context = await run_in_threadpool(_read, request, staff, reference)
    except NotFound:
        return not_found(request, staff)
    done = request.query_params.get("done", "")
    return page(
        request,
        "case.html",
        staff=staff,
        status_code=trouble.status,
        trouble=trouble,
        errors=trouble.errors or {},
        done=text(request, f"do.{done}") if done in Action._value2member_map_ else "",
        sent=request.query_params.get("sent") is not None,
        **context,
    )


@router.get("/console/cases/{reference}", response_class=HTMLResponse)
async def case_page(request: Request, staff: StaffUser, reference: str) -> HTMLResponse:
    if not REFERENCE.match(reference):
        return not_found(request, staff)
    return await _case_page(request, staff, reference)


@router.post("/console/cases/{reference}/messages", response_class=HTMLResponse)
async def reply(request: Request, staff: StaffUser, reference: str) -> Response:
    form = await request.form()
    if not REFERENCE.match(reference):
        return not_found(request, staff)
    if not form_token_ok(request, posted(form, "form_token")):
        expired = Trouble("reply", text(request, "case.expired"), status=403)
        return await _case_page(request, staff, reference, expired)
    body = posted(form, "body")
    try:
        message = NewMessage(body=body)
        state = app_state(request)
        await run_in_threadpool(
            messages.answer_reporter,
            uow=UnitOfWork(state.db),
            policy=state.policy,
            reference=reference,
            author=staff,
            message=message,
        )
    except ValidationError as exc:
        errors = field_errors(request, exc)
        trouble = Trouble("reply", errors=errors, values={"body": body}, status=422)
        return await _case_page(request, staff, reference, trouble)
    except NotFound:
        return not_found(request, staff)
    except DomainError as exc:
        return await _case_page(request, staff, reference, Trouble("reply", str(exc), status=403))
    return RedirectResponse(f"/console/cases/{reference}?sent#messages", status_code=303)


@router.post("/console/cases/{reference}/{path}", response_class=HTMLResponse)
async def act(request: Request, staff: StaffUser, reference: str, path: str) -> Response:
    action = action_of_path(path)
    if action is None or not REFERENCE.match(reference):
        return not_found(request, staff)
    if action is Action.RECORD_EVIDENCE:
        try:
            refuse_oversized(request)  # before the file is read
        except DomainError as exc:
            large = Trouble(action.value, errors={"file": str(exc)}, status=413)
            return await _case_page(request, staff, reference, large)
    sent = await request.form()
    if not form_token_ok(request, posted(sent, "form_token")):
        expired = Trouble(action.value, text(request, "case.expired"), status=403)
        return await _case_page(request, staff, reference, expired)
    upload = sent.get(FILE_FIELD)
    file = upload if isinstance(upload, UploadFile) else None
    try:
        refusal = await acting.act(request, staff, reference, action, sent, file=file)
    except NotFound:
        return not_found(request, staff)
    if refusal is None:
        return RedirectResponse(f"/console/cases/{reference}?done={action.value}", status_code=303)
    trouble = Trouble(
        action.value, refusal.notice, refusal.errors, refusal.values, status=refusal.status
    )
    return await _case_page(request, staff, reference, trouble)

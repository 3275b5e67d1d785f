"""The public pages: the home page and the report form (no sign-in, no JavaScript)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.http import idempotency, throttle
from api.http.deps import app_state
from api.http.pages.render import form_token_ok, language_of, page
from api.http.pages.texts import TEXTS
from cases import service
from cases.people.directory import unit_choices
from cases.people.secrets import derived_receipt_code, seal
from cases.procedure.commands import FileReport
from cases.procedure.errors import DomainError
from cases.store.db import UnitOfWork

router = APIRouter(include_in_schema=False)
FORM_FIELDS = (
    "unit",
    "subject_name",
    "subject_post",
    "subject_handle",
    "category",
    "summary",
    "details",
    "occurred",
    "place",
    "anonymous",
    "reporter_name",
    "reporter_contact",
)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return page(request, "home.html")


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request) -> HTMLResponse:
    return _form(request, values={}, errors={})


@router.post("/report", response_class=HTMLResponse)
async def report_filed(request: Request) -> HTMLResponse:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in (*FORM_FIELDS, "submission")}
    if not form_token_ok(request, str(form.get("form_token") or "")):
        return _form(request, values=values, errors={}, notice=_text(request, "error.csrf"))
    try:
        report = FileReport.model_validate(_report_fields(values))
    except ValidationError as exc:
        return _form(request, values=values, errors=_field_errors(request, exc))
    state = app_state(request)
    client = throttle.peer_key(request, state.secret)
    limit = throttle.intake_limit(request, state.policy)
    wait, _ = limit.admit(client)
    if wait:
        refused = _form(request, values=values, errors={}, notice=_text(request, "error.rate"))
        refused.status_code, refused.headers["Retry-After"] = 429, throttle.retry_after(wait)
        return refused
    try:
        reference, code = _file(request, report, values["submission"])
    except DomainError as exc:
        limit.refund(client)  # refused as invalid: no case was filed
        field = getattr(exc, "field", None) or "details"
        return _form(request, values=values, errors={field: str(exc)})
    return page(request, "receipt.html", reference=reference, code_groups=code.split("-"))


def _form(
    request: Request, *, values: dict[str, str], errors: dict[str, str], notice: str = ""
) -> HTMLResponse:
    state = app_state(request)
    values = {**values, "submission": values.get("submission") or secrets.token_urlsafe(16)}
    return page(
        request,
        "report.html",
        status_code=422 if errors or notice else 200,
        values=values,
        errors=errors,
        notice=notice,
        units=unit_choices(uow=UnitOfWork(state.db, write=False)),
        categories=state.policy.categories,
    )


def _report_fields(values: dict[str, str]) -> dict[str, Any]:
    """The form's values as the report command takes them (blank optional fields: none)."""
    fields: dict[str, Any] = {k: v for k, v in values.items() if k in FORM_FIELDS and v}
    fields["anonymous"] = values.get("anonymous") != "false"
    return {k: v for k, v in fields.items() if k in FileReport.model_fields}


def _field_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    """Each invalid field's message, in the page's language."""
    errors: dict[str, str] = {}
    for problem in exc.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "details"
        kind = problem["type"]
        if kind == "missing":
            errors[field] = _text(request, "field.missing")
        elif kind == "string_too_long":
            limit = (problem.get("ctx") or {}).get("max_length", "")
            errors[field] = _text(request, "field.too_long", limit=limit)
        else:
            errors.setdefault(field, _text(request, "field.invalid"))
    return errors


def _file(request: Request, report: FileReport, submission: str) -> tuple[str, str]:
    """File the report once per form (a second submit of the same form answers the first's
    receipt again); returns its reference and receipt code."""
    state = app_state(request)
    key = f"form:{submission or secrets.token_urlsafe(16)}"
    code = derived_receipt_code(state.secret, "anonymous", key)
    answer = idempotency.call(
        db=state.db,
        principal="anonymous",
        key=key,
        print_=lambda: idempotency.fingerprint("POST", "/report", report.model_dump_json()),
        service=lambda remember: service.file_report(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            report=report,
            reporter=None,
            receipt_code=code,
            sealed_receipt=seal(state.secret, code),
            secret=state.secret,
            remember=remember,
        ),
        respond=lambda filed: (201, {"reference": filed.reference}, {}),
    )
    return str(json.loads(bytes(answer.body))["reference"]), code


def _text(request: Request, key: str, **values: object) -> str:
    return TEXTS[key].text(language_of(request)).format(**values)

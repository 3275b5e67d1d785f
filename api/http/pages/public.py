"""The public pages: the home page and the report form (no sign-in, no JavaScript)."""

from __future__ import annotations

import json
import secrets
from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.http import idempotency, throttle
from api.http.deps import app_state
from api.http.pages.render import field_errors, form_token_ok, page, text
from api.http.problems import status_of
from cases import service
from cases.evidence_files import MB, evidence_store
from cases.people.directory import unit_choices
from cases.people.secrets import derived_receipt_code, seal
from cases.procedure.commands import Attachment, FileReport
from cases.procedure.errors import DomainError, TooLarge, UnsupportedMediaType
from cases.reporter_side import MAX_REPORT_FILES
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
    limits = app_state(request).policy.evidence
    if int(request.headers.get("content-length") or 0) > limits.max_case_mb * MB + MB:
        too_large = text(request, "report.files_too_large", mb=limits.max_case_mb)
        refused = _form(request, values={}, errors={"evidence": too_large})
        refused.status_code = 413  # refused before the body is read: nothing to keep
        return refused
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in (*FORM_FIELDS, "submission")}
    files = [
        (PurePath(f.filename).name[:200], f)
        for f in form.getlist("evidence")
        if isinstance(f, UploadFile) and f.filename
    ]
    # The filing (SQL, Argon2) runs in the thread pool, as a sync endpoint's would.
    token = str(form.get("form_token") or "")
    return await run_in_threadpool(_filed, request, values, files, token)


def _filed(
    request: Request, values: dict[str, str], files: list[tuple[str, UploadFile]], token: str
) -> HTMLResponse:
    if not form_token_ok(request, token):
        return _form(request, values=values, errors={}, notice=text(request, "error.csrf"))
    try:
        report = FileReport.model_validate(_report_fields(values))
    except ValidationError as exc:
        return _form(request, values=values, errors=field_errors(request, exc))
    state = app_state(request)
    try:
        with throttle.filing(request, state.policy, state.secret):
            reference, code = _file(request, report, values["submission"], files)
    except throttle.Refused as too_soon:
        refused = _form(request, values=values, errors={}, notice=text(request, "error.rate"))
        refused.status_code = 429
        refused.headers["Retry-After"] = throttle.retry_after(too_soon.seconds)
        return refused
    except (TooLarge, UnsupportedMediaType) as exc:
        words = "report.file_too_large" if isinstance(exc, TooLarge) else "status.wrong_type"
        errors = {"evidence": text(request, words, mb=state.policy.evidence.max_file_mb)}
        refused = _form(request, values=values, errors=errors)
        refused.status_code = status_of(exc)
        return refused
    except DomainError as exc:
        field = exc.field or "details"
        return _form(request, values=values, errors={_FIELDS.get(field, field): str(exc)})
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
        max_files=MAX_REPORT_FILES,
        max_file_mb=state.policy.evidence.max_file_mb,
    )


def _report_fields(values: dict[str, str]) -> dict[str, Any]:
    """The form's values as the report command takes them (blank optional fields: none)."""
    fields: dict[str, Any] = {k: v for k, v in values.items() if k in FORM_FIELDS and v}
    fields["anonymous"] = values.get("anonymous") != "false"
    return {k: v for k, v in fields.items() if k in FileReport.model_fields}


_FIELDS = {"file": "evidence"}  # the evidence store's name for the form's field


def _file(
    request: Request, report: FileReport, submission: str, files: list[tuple[str, UploadFile]]
) -> tuple[str, str]:
    """File the report once per form (a second submit of the same form answers the first's
    receipt again); returns its reference and receipt code."""
    state = app_state(request)
    key = f"form:{submission or secrets.token_urlsafe(16)}"
    code = derived_receipt_code(state.secret, "anonymous", key)
    store = evidence_store(state.settings.data_dir)
    answer = idempotency.call(
        db=state.db,
        principal="anonymous",
        key=key,
        print_=lambda: idempotency.fingerprint(
            "POST", "/report", report.model_dump_json() + "".join(f"\n{n}" for n, _ in files)
        ),
        service=lambda remember: service.file_report(
            uow=UnitOfWork(state.db),
            policy=state.policy,
            report=report,
            reporter=None,
            receipt_code=code,
            sealed_receipt=seal(state.secret, code),
            secret=state.secret,
            remember=remember,
            files=[(name, Attachment(content=f.file, store=store)) for name, f in files],
        ),
        respond=lambda filed: (201, {"reference": filed.reference}, {}),
    )
    return str(json.loads(bytes(answer.body))["reference"]), code

"""The subject's page: opened with a link (/s/<token>) or a short code (/s), then a short
signed session; what policy shows them, their statement (陈述申辩) and their appeal (申诉).

The session cookie holds the link's number and the visit's end, signed with the server
secret (HMAC-SHA256); every page checks the link again, so a revoked link ends the visit.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.http import throttle
from api.http.deps import app_state
from api.http.pages.render import field_errors, form_token_ok, language_of, page, text
from api.http.pages.visits import Visit, VisitCookie
from cases import service, subject_links
from cases.evidence_files import MB, evidence_store
from cases.papers.decision_notice import decision_notice, notice_in_force
from cases.procedure import commands as c
from cases.procedure.clock import local_text, utcnow
from cases.procedure.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    NotNow,
    TooLarge,
    UnsupportedMediaType,
    VersionConflict,
)
from cases.procedure.labels import event_label, stage_label
from cases.procedure.policy import Label
from cases.store.db import UnitOfWork
from cases.subject_links import SubjectSession
from cases.subject_view import SubjectCaseView

router = APIRouter(include_in_schema=False)
VISIT = VisitCookie("qf_subject", "subject-session")
HOME = "/subject"
NOTICE_PDF = f"{HOME}/decision-notice.pdf"
# The decision notice's words on the page (zh-CN, en).
NOTICE_WORDS = {
    "heading": Label.model_validate({"zh-CN": "处理决定书", "en": "Decision notice"}),
    "number": Label.model_validate({"zh-CN": "文号", "en": "Number"}),
    "dated": Label.model_validate({"zh-CN": "日期", "en": "Dated"}),
    "download": Label.model_validate(
        {"zh-CN": "下载处理决定书（PDF）", "en": "Download the decision notice (PDF)"}
    ),
    "none": Label.model_validate(
        {"zh-CN": "尚未作出处理决定，暂无处理决定书。", "en": "No decision yet, so no notice."}
    ),
    "hint": Label.model_validate(
        {
            "zh-CN": "这是送达给你的正式决定书，请妥善保存；申诉期限自收到之日起计算。",
            "en": "This is the formal notice served on you; keep it. The time to appeal "
            "runs from the day you receive it.",
        }
    ),
}


def _visit(request: Request) -> SubjectSession:
    """The visit the request's cookie names, still live and its link too (NotFound else)."""
    visit = VISIT.read(request)
    if visit is None:
        raise NotFound(subject_links.GONE, field="session")
    return subject_links.resume(
        uow=UnitOfWork(app_state(request).db, write=False),
        link_id=visit.opened,
        until=visit.until,
        now=utcnow(),
    )


def _opened(request: Request, visit: SubjectSession) -> Response:
    """Into the page, with the session cookie; the token leaves the address bar. A link
    followed from another site (a mail reader) gets a page that moves on by itself: a
    SameSite=Strict cookie set in a cross-site redirect would not be sent back."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        response: Response = page(request, "subject_open.html")
    else:
        response = RedirectResponse(HOME, status_code=303)
    VISIT.open(request, response, Visit(visit.link_id, visit.expires_at))
    return response


def _gone(request: Request) -> HTMLResponse:
    """The one answer to an expired, revoked, unknown or missing link (nothing to tell apart)."""
    response = page(request, "subject_gone.html", status_code=404)
    response.delete_cookie(VISIT.name)
    return response


@router.get("/s", response_class=HTMLResponse)
def code_form(request: Request) -> HTMLResponse:
    return page(request, "subject_code.html", values={}, errors={})


@router.post("/s", response_class=HTMLResponse)
async def code_entered(request: Request) -> Response:
    form = await request.form()
    typed, token = str(form.get("code") or "").strip(), str(form.get("form_token") or "")
    return await run_in_threadpool(_code_opened, request, typed, token)  # SQL off the loop


def _code_opened(request: Request, typed: str, token: str) -> Response:
    """The code looked up with the growing delay receipt codes get (per client and overall):
    a wrong code counts, and while a wait is due even the right code is not checked."""
    if not form_token_ok(request, token):
        return _code_error(request, typed, text(request, "error.csrf"))
    state = app_state(request)

    def lookup() -> SubjectSession:
        uow = UnitOfWork(state.db, write=False)
        return subject_links.open_code(uow=uow, policy=state.policy, code=typed, now=utcnow())

    try:
        visit = throttle.looked_up(request, state.secret, lookup, "subject_code")
    except throttle.Refused as refused:
        wait = throttle.retry_after(refused.seconds)
        words = text(request, "subject.code_wait", seconds=wait)
        response = _code_error(request, typed, words, status_code=429)
        response.headers["Retry-After"] = wait
        return response
    except NotFound:
        return _code_error(request, typed, text(request, "subject.code_wrong"))
    return _opened(request, visit)


def _code_error(
    request: Request, typed: str, message: str, *, status_code: int = 422
) -> HTMLResponse:
    return page(
        request, "subject_code.html", status_code=status_code, values={"code": typed},
        errors={"code": message},
    )  # fmt: skip


@router.get("/s/{token}", response_class=HTMLResponse)
def link_opened(request: Request, token: str) -> Response:
    state = app_state(request)
    try:
        visit = subject_links.open_link(
            uow=UnitOfWork(state.db, write=False), policy=state.policy, token=token, now=utcnow()
        )
    except NotFound:
        return _gone(request)
    return _opened(request, visit)


@router.get(HOME, response_class=HTMLResponse)
def subject_page(request: Request) -> HTMLResponse:
    done = request.query_params.get("done")
    notice = text(request, f"subject.done_{done}") if done in ("statement", "appeal") else ""
    return _subject_page(request, notice=notice)


def _subject_page(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The page as the visit's subject may see it now; a notice on top (an error unless 200)."""
    try:
        visit = _visit(request)
        view = _view(request, visit)
        paper = notice_in_force(
            uow=UnitOfWork(app_state(request).db, write=False), reference=visit.reference,
            viewer=visit.person,
        )  # fmt: skip
    except NotFound:
        return _gone(request)
    response = page(
        request,
        "subject.html",
        status_code=status_code,
        view=view,
        paper=paper and {"number": paper[0], "dated": paper[1].isoformat(), "url": NOTICE_PDF},
        notice_words={key: words.text(language_of(request)) for key, words in NOTICE_WORDS.items()},
        values=values or {},
        errors=errors or {},
        notice=notice,
        notice_is_error=status_code != 200,
        **_words(request, view),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get(NOTICE_PDF)
def notice_pdf(request: Request) -> Response:
    """The decision notice served on the subject, within their visit; never cached."""
    state = app_state(request)
    try:
        visit = _visit(request)
        paper = decision_notice(
            uow=UnitOfWork(state.db), policy=state.policy, reference=visit.reference,
            viewer=visit.person, committee=state.settings.committee_name,
        )  # fmt: skip
    except NotFound:
        return _gone(request)
    except NotNow:
        none = NOTICE_WORDS["none"].text(language_of(request))
        return _subject_page(request, notice=none, status_code=404)
    disposition = f'attachment; filename="{paper.filename}"'
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
    return Response(paper.pdf, media_type="application/pdf", headers=headers)


def _view(request: Request, visit: SubjectSession) -> SubjectCaseView:
    state = app_state(request)
    view = service.read_case(
        uow=UnitOfWork(state.db), policy=state.policy, reference=visit.reference,
        viewer=visit.person,
    )  # fmt: skip
    assert isinstance(view, SubjectCaseView)  # the viewer is the case's subject
    return view


def _words(request: Request, view: SubjectCaseView) -> dict[str, Any]:
    """The view's codes and times in the page's language (Asia/Shanghai wall time)."""
    policy, language = app_state(request).policy, language_of(request)
    decision = policy.disposition(view.decision) if view.decision else None
    category = next((e for e in policy.categories if e.code == view.category), None)
    return {
        "stage_words": stage_label(view.stage, language),
        "decision_words": decision.label.text(language) if decision else "",
        "category_words": category.label.text(language) if category else "",
        "when": local_text,
        "event_words": lambda action: event_label(f"case.{action}", language, policy),
        "file_limits": {
            "count": c.RecordStatement.max_files,
            "mb": policy.evidence.max_file_mb,
            "types": ", ".join(policy.evidence.allowed),
        },
    }


@router.post(f"{HOME}/statement", response_class=HTMLResponse)
async def statement_given(request: Request) -> Response:
    return await _act(request, "statement", c.RecordStatement)


@router.post(f"{HOME}/appeal", response_class=HTMLResponse)
async def appeal_lodged(request: Request) -> Response:
    return await _act(request, "grounds", c.Appeal)


Files = list[tuple[str | None, UploadFile]]


async def _act(request: Request, field: str, command_class: type[c.Command]) -> Response:
    """The subject's own action from the page's form: the case version it was shown
    (If-Match), the form token; errors beside the field, what was written kept. A
    statement's files are spooled by the form parser and stored in chunks from there;
    nothing is read without a live visit, nor a body longer than a statement may be."""
    try:
        await run_in_threadpool(_visit, request)
    except NotFound:
        return _gone(request)
    if command_class is c.RecordStatement and _too_big(request):  # before it is read
        errors = {"files": _file_error(request, TooLarge("too large", field="file"))}
        return await run_in_threadpool(_again, request, {}, errors, "", status_code=413)
    form = await request.form()
    try:
        values = {field: str(form.get(field) or "").strip()}
        token, version = str(form.get("form_token") or ""), str(form.get("version") or "")
        files: Files = [
            (PurePath(sent.filename or "").name[:200] or None, sent)
            for sent in form.getlist("files")
            if isinstance(sent, UploadFile) and (sent.filename or sent.size)
        ]
        return await run_in_threadpool(
            _acted, request, command_class, values, token, version, files
        )
    finally:
        await form.close()


def _too_big(request: Request) -> bool:
    """Whether the body is longer than the most files a statement may carry, and its text."""
    limits = app_state(request).policy.evidence
    most = c.RecordStatement.max_files * limits.max_file_mb * MB + MB
    return int(request.headers.get("content-length") or 0) > most


def _with_files(request: Request, command: c.Command, files: Files) -> c.Command:
    if not isinstance(command, c.RecordStatement) or not files:
        return command
    store = evidence_store(app_state(request).settings.data_dir)
    return command.with_files([(name, c.Attachment(sent.file, store)) for name, sent in files])


def _acted(
    request: Request,
    command_class: type[c.Command],
    values: dict[str, str],
    token: str,
    version: str,
    files: Files,
) -> Response:
    """The action taken (in the thread pool: SQL off the event loop)."""
    (field,) = values
    if not form_token_ok(request, token):
        return _again(request, values, {}, text(request, "error.csrf"))
    try:
        command = _with_files(request, command_class.model_validate(values), files)
    except ValidationError as exc:
        return _again(request, values, field_errors(request, exc), "")
    try:
        visit = _visit(request)
        state = app_state(request)
        service.apply_action(
            uow=UnitOfWork(state.db), policy=state.policy, reference=visit.reference,
            actor=visit.person, command=command,
            expected_version=int(version) if version.isdigit() else -1,
        )  # fmt: skip
    except InvalidInput as exc:  # a file over the limits or of a type not accepted
        if exc.field != "file":
            raise
        wrong_type = isinstance(exc, UnsupportedMediaType)
        status = 413 if isinstance(exc, TooLarge) else 415 if wrong_type else 422
        errors = {"files": _file_error(request, exc)}
        return _again(request, values, errors, "", status_code=status)
    except NotFound:
        return _gone(request)
    except VersionConflict:
        return _again(request, values, {}, text(request, "subject.stale"), status_code=409)
    except DomainError:  # the true reason is recorded for oversight (action.refused)
        return _again(request, values, {}, text(request, "subject.refused"), status_code=409)
    kind = "statement" if field == "statement" else "appeal"
    return RedirectResponse(f"{HOME}?done={kind}", status_code=303)


def _file_error(request: Request, exc: InvalidInput) -> str:
    """What is wrong with the files sent, in the page's language."""
    limits = app_state(request).policy.evidence
    if isinstance(exc, TooLarge):
        return text(
            request, "subject.file_too_large", mb=limits.max_file_mb, case_mb=limits.max_case_mb
        )
    if isinstance(exc, UnsupportedMediaType):
        return text(request, "subject.file_type", types=", ".join(limits.allowed))
    return text(request, "subject.files_too_many", count=c.RecordStatement.max_files)


def _again(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str],
    notice: str,
    *,
    status_code: int = 422,
) -> HTMLResponse:
    return _subject_page(
        request, values=values, errors=errors, notice=notice, status_code=status_code
    )

"""GET /procedure (the page, public) and GET /procedure.json (the same data, for integrations)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.http.pages.render import language_of, page
from api.http.procedure.diagram import render
from api.http.procedure.model import ProcedureView, procedure_view
from api.http.procedure.texts import PAGE
from cases.procedure.labels import STAGES
from cases.procedure.vocabulary import Stage

router = APIRouter(tags=["procedure"])
STYLE = (Path(__file__).parent / "procedure.css").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _view() -> ProcedureView:
    return procedure_view()  # the table is fixed once the code is loaded


@router.get(
    "/procedure.json",
    response_model=ProcedureView,
    summary="The stage machine: every stage and every (stage, action) rule, zh-CN and en",
)
def procedure_json() -> ProcedureView:
    return _view()


@router.get("/procedure", response_class=HTMLResponse, include_in_schema=False)
def procedure_page(request: Request, stage: str | None = None) -> HTMLResponse:
    language = language_of(request)
    here = Stage(stage) if stage is not None and stage in Stage._value2member_map_ else None
    view = _view()

    def w(key: str, **values: object) -> str:
        return PAGE[key].text(language).format(**values)

    def stage_name(code: str) -> str:
        return STAGES[Stage(code)].text(language)

    return page(
        request,
        "procedure.html",
        status_code=404 if stage is not None and here is None else 200,
        view=view,
        diagram=render(view, language, here),
        here=here,
        asked=stage,
        w=w,
        stage_name=stage_name,
    )


@router.get("/procedure.css", include_in_schema=False)
def procedure_style() -> Response:
    """The page's own stylesheet (served from here: the pages' policy allows 'self' only)."""
    headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(STYLE, media_type="text/css", headers=headers)

"""Uploads refused by their declared size before the body is read: FastAPI reads a form
(spooling its files) before any dependency runs, so the check sits in the route class."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.http.deps import app_state
from cases.evidence_files import CHUNK, MB
from cases.procedure.errors import TooLarge


def refuse_oversized(request: Request) -> None:
    """TooLarge (413) when the body declares more than one file may be (plus the form)."""
    limit = app_state(request).policy.evidence.max_file_mb * MB + CHUNK
    if int(request.headers.get("content-length") or 0) > limit:
        raise TooLarge(f"a file may be at most {limit // MB} MB", field="file")


class LimitedUploadRoute(APIRoute):
    """A route taking one file: an oversized body is refused before it is read (the
    evidence store refuses it again while streaming, whatever the header said)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            refuse_oversized(request)
            return await handler(request)

        return limited

"""Request bodies refused before they are parsed: too large (413) or JSON nested too deep
(422). Multipart bodies (uploads) are limited by their routes (api.http.uploads), so
they pass through here unread; every other body is read whole, at most ``MAX_BODY``.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import problem

# A body holds at most 20 reasons of 5000 characters, each escaped as up to 6 bytes.
MAX_BODY = 1024 * 1024
MAX_DEPTH = 16  # the deepest command is 2 levels ({"reasons": [...]})
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes, *, limit: int = MAX_DEPTH) -> int:
    """How deep ``body``'s arrays and objects nest (stops counting past ``limit``)."""
    depth = deepest = 0
    for bracket in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


class BodyLimit:
    """ASGI middleware: a body over ``MAX_BODY`` is a 413, JSON deeper than ``MAX_DEPTH``
    a 422, each problem+json naming the field ``body``; nothing reaches the routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        kind = headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            return await self.app(scope, receive, send)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return await self._refuse(scope, receive, send, 413)
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                return await self._refuse(scope, receive, send, 413)
        whole = bytes(body)
        if "json" in kind and json_depth(whole) > MAX_DEPTH:
            return await self._refuse(scope, receive, send, 422)
        return await self.app(scope, _replay(whole, receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, status: int) -> None:
        if status == 413:
            answer = problem(
                413,
                "too-large",
                "Too large",
                f"a request body may be at most {MAX_BODY // 1024} KB",
                instance=scope["path"],
                field="body",
            )
        else:
            answer = problem(
                422,
                "invalid-input",
                "Invalid input",
                f"JSON may nest arrays and objects at most {MAX_DEPTH} deep",
                instance=scope["path"],
                field="body",
            )
        await answer(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` once, then what the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed

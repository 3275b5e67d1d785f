"""The headers every response carries, decided in one place (issue 18, item 7).

- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` and
  ``Referrer-Policy: no-referrer`` (no-referrer, not same-origin: the subject's page has its
  link token in the path, and no page needs the referrer; the pages already sent it).
- ``Content-Security-Policy``: a page's own policy is kept (the people's and console pages'
  is ``PAGE_POLICY`` in api/http/pages/render.py, the docs' is ``DOCS_POLICY`` in
  api/http/app.py); one without ``frame-ancestors`` gets ``frame-ancestors 'none'`` added;
  everything else (JSON, problem+json, files, /metrics) gets ``API_POLICY``, which lets a
  browser run and load nothing.
- ``Cache-Control: no-store`` on everything but the known public, static routes
  (``PUBLIC_STATIC``: the static assets and the public procedure page), whatever a route
  set: a plain rule, so a new route with personal data is never cached by mistake.
- No ``Server`` banner: uvicorn adds its own below the app, so `up` starts it with
  ``server_header=False`` (api/stack/services.py); this middleware drops any other.

CORS stays closed: the app installs no CORS middleware, so a cross-origin preflight is
answered without ``Access-Control-Allow-Origin`` and the browser refuses the call.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
NO_FRAMES = "frame-ancestors 'none'"
NO_STORE = "no-store"
# Routes anyone may read and anyone may cache: the same bytes for every visitor.
PUBLIC_STATIC_PREFIXES = ("/static/",)
PUBLIC_STATIC = frozenset({"/procedure", "/procedure.json", "/procedure.css"})
INTERNAL_ERROR = JSONResponse(
    {"type": "about:blank", "title": "Internal Server Error", "status": 500,
     "detail": "the server failed; the error is logged"},
    status_code=500,
    media_type="application/problem+json",
)  # fmt: skip
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def public_static(path: str) -> bool:
    """Whether ``path`` is a route whose answer holds nothing personal and may be cached."""
    return path in PUBLIC_STATIC or path.startswith(PUBLIC_STATIC_PREFIXES)


def content_policy(sent: str | None) -> str:
    """The response's Content-Security-Policy: the page's own (framing always refused), or
    the API's."""
    if not sent:
        return API_POLICY
    if "frame-ancestors" in sent:
        return sent
    return f"{sent.rstrip('; ')}; {NO_FRAMES}"


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response of the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, root = scope.get("path", ""), scope.get("root_path", "")
        cacheable = public_static(path.removeprefix(root) if root else path)

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
                headers["Content-Security-Policy"] = content_policy(
                    headers.get("content-security-policy")
                )
                if not cacheable:
                    headers["Cache-Control"] = NO_STORE
                del headers["server"]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            # Starlette's error page is made outside every middleware, so it would carry
            # none of the headers: answer the 500 here, then let the server log the error.
            if not started:
                await INTERNAL_ERROR(scope, receive, with_headers)
            raise

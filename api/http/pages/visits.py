"""A short visit opened by a secret the visitor showed once (a receipt code, a subject's
link): a cookie holding what was opened and the visit's end, signed with the server
secret (HMAC-SHA256), HttpOnly and SameSite=Strict."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request, Response

from api.http.deps import app_state
from cases.procedure.clock import utcnow


@dataclass(frozen=True)
class Visit:
    """What a visit opened (a case's or a link's number) and when it ends."""

    opened: int
    until: datetime


@dataclass(frozen=True)
class VisitCookie:
    """One kind of visit: its cookie's name and the purpose its signature is bound to."""

    name: str
    purpose: str

    def _signature(self, secret: bytes, body: str) -> str:
        message = f"{self.purpose}:{body}".encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()

    def value(self, secret: bytes, visit: Visit) -> str:
        body = f"{visit.opened}.{int(visit.until.timestamp())}"
        return f"{body}.{self._signature(secret, body)}"

    def read(self, request: Request) -> Visit | None:
        """The live visit the request's cookie names (None: none, forged or over)."""
        opened, _, rest = (request.cookies.get(self.name) or "").partition(".")
        until, _, signature = rest.partition(".")
        if not (opened.isdigit() and until.isdigit() and len(until) < 12):
            return None
        expected = self._signature(app_state(request).secret, f"{opened}.{until}")
        if not hmac.compare_digest(signature, expected):
            return None
        ends = datetime.fromtimestamp(int(until), UTC)
        return Visit(int(opened), ends) if utcnow() < ends else None

    def open(self, request: Request, response: Response, visit: Visit) -> None:
        """Set the cookie for ``visit`` on ``response`` (it lasts as long as the visit)."""
        seconds = int((visit.until - utcnow()).total_seconds())
        response.set_cookie(
            self.name,
            self.value(app_state(request).secret, visit),
            max_age=max(seconds, 1),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        response.headers["Cache-Control"] = "no-store"

"""Slowing down guessers and floods: the growing delay after wrong receipt codes (and
after wrong codes of the subject's hand-over notices, counted apart), and the intake
limits (policy ``intake``). In memory, per process: with several workers each counts
its own clients (the limits then apply per worker).

Both answer with a wait in seconds (0: go on) that the HTTP layer turns into
``429 Too Many Requests`` with ``Retry-After``, before any work is done. A 429 costs the
server nothing and cannot be sidestepped by sending requests in parallel, where a sleep
would hold a connection per request and let a parallel burst through together.

A client is ``request.client.host``. Behind a reverse proxy that is the proxy's address
unless uvicorn runs with ``--proxy-headers --forwarded-allow-ips=<the proxy's address>``,
which makes it the real client's (from X-Forwarded-For). Addresses are kept only as a
keyed digest (``client_key``) and are never logged. A peer that is no IP address (a Unix
socket without proxy headers, a test transport) is no known client: only the overall
limits apply to it, since counting every such request as one client would let one
sender use up everyone's allowance.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, Literal, TypeVar

from fastapi import Request
from sqlmodel import Session, col, select

from cases.people.secrets import token_hash
from cases.procedure.clock import utcnow
from cases.procedure.errors import DomainError, NotFound, Unauthenticated
from cases.procedure.policy import Policy
from cases.store.models import ApiToken

Clock = Callable[[], float]
T = TypeVar("T")
_MAX_CLIENTS = 10_000  # beyond this, the quietest clients are forgotten first
# 429 answers, zh-CN then en; which limit was reached, never anything about a code.
BUSY = {
    "client": "本地址一小时内提交的举报已达上限，请稍后再试。"
    " / Too many reports from this address within an hour; try again later.",
    "overall": "当前提交的举报过多，请稍后再试。"
    " / Too many reports are being filed right now; try again later.",
    "receipt": "查询码错误次数过多，请稍后再试。"
    " / Too many wrong receipt codes; wait before trying again.",
    "subject_code": "验证码错误次数过多，请稍后再试。"
    " / Too many wrong notice codes; wait before trying again.",
    "token": "此令牌一分钟内的请求已达上限，请稍后再试。"
    " / Too many requests with this token within a minute; try again later.",
}
Code = Literal["receipt", "subject_code"]  # the codes looked up: each has its own delay


def client_key(secret: bytes, host: str | None) -> str | None:
    """A short keyed digest of the client's IP address, what the counters are keyed by;
    None when the peer has no IP address."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    digest = hashlib.blake2b(address.packed, key=secret[:64], digest_size=12)
    return digest.hexdigest()


@dataclass
class _Failures:
    count: int
    last: float


class Backoff:
    """A growing delay after failed attempts (wrong receipt codes).

    Per client, after its n-th failure the next attempt waits 0, 1, 2, 4 … seconds
    (``base * 2**(n-2)``), at most ``cap``; every ``quiet`` seconds without a failure
    halve its count. Overall, once more than ``overall_free`` failures fall within a
    minute, every client also waits ``overall_step`` seconds per failure over that, at
    most ``overall_cap``: a smaller growth that slows guessing from many addresses."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        base: float = 1.0,
        cap: float = 30.0,
        quiet: float = 600.0,
        overall_free: int = 60,
        overall_step: float = 0.1,
        overall_cap: float = 5.0,
    ) -> None:
        self._clock = clock
        self._base, self._cap, self._quiet = base, cap, quiet
        self._free, self._step, self._overall_cap = overall_free, overall_step, overall_cap
        self._clients: dict[str, _Failures] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def failures(self, client: str | None) -> int:
        """The client's failure count now, after decay."""
        with self._lock:
            return self._count(client, self._clock())

    def wait(self, client: str | None) -> float:
        """Seconds ``client`` must wait before its next attempt is heard (0: now)."""
        with self._lock:
            now = self._clock()
            own = self._client_wait(client, now)
            return max(own, self._overall_wait(now))

    def failed(self, client: str | None) -> None:
        """Count a failed attempt by ``client``."""
        with self._lock:
            now = self._clock()
            if client is not None:
                self._clients[client] = _Failures(self._count(client, now) + 1, now)
            self._recent.append(now)
            self._forget(now)

    def _count(self, client: str | None, now: float) -> int:
        seen = self._clients.get(client) if client else None
        if seen is None:
            return 0
        halvings = int((now - seen.last) // self._quiet)
        return seen.count >> min(halvings, 63)

    def _delay(self, count: int) -> float:
        return 0.0 if count < 2 else min(self._cap, self._base * 2 ** (count - 2))

    def _client_wait(self, client: str | None, now: float) -> float:
        seen = self._clients.get(client) if client else None
        if seen is None:
            return 0.0
        return max(0.0, seen.last + self._delay(seen.count) - now)

    def _overall_wait(self, now: float) -> float:
        while self._recent and self._recent[0] <= now - 60:
            self._recent.popleft()
        excess = len(self._recent) - self._free
        if excess <= 0:
            return 0.0
        delay = min(self._overall_cap, self._step * excess)
        return max(0.0, self._recent[-1] + delay - now)

    def _forget(self, now: float) -> None:
        if len(self._clients) <= _MAX_CLIENTS:
            return
        for client in [c for c in self._clients if self._count(c, now) == 0]:
            del self._clients[client]
        while len(self._clients) > _MAX_CLIENTS:
            quietest = min(self._clients, key=lambda c: self._clients[c].last)
            del self._clients[quietest]


class RateLimit:
    """At most ``per_client`` and ``overall`` admissions within a sliding ``window``."""

    def __init__(
        self, *, per_client: int, overall: int, window: float = 3600.0, clock: Clock = time.time
    ) -> None:
        self._per_client, self._overall, self._window = per_client, overall, window
        self._clock = clock
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self, client: str | None) -> tuple[float, str | None]:
        """(0, None) and the admission counted, or (seconds to wait, which limit: "client"
        or "overall") with nothing counted."""
        with self._lock:
            now = self._clock()
            mine = self._clients.get(client, deque()) if client else deque()
            for times in (mine, self._all):
                while times and times[0] <= now - self._window:
                    times.popleft()
            if client and len(mine) >= self._per_client:
                return self._retry(mine, now), "client"
            if len(self._all) >= self._overall:
                return self._retry(self._all, now), "overall"
            # Only admissions are kept (at most ``overall`` per window): refusals cost nothing.
            mine.append(now)
            self._all.append(now)
            if client:
                self._clients[client] = mine
            self._forget()
            return 0.0, None

    def refund(self, client: str | None) -> None:
        """Take back ``client``'s latest admission (its request was refused as invalid)."""
        with self._lock:
            mine = self._clients.get(client) if client else None
            if mine:
                at = mine.pop()
                if at in self._all:
                    self._all.remove(at)
            elif client is None and self._all:
                self._all.pop()

    def _retry(self, times: deque[float], now: float) -> float:
        return max(1.0, times[0] + self._window - now)

    def _forget(self) -> None:
        if len(self._clients) > _MAX_CLIENTS:
            for client in [c for c, times in self._clients.items() if not times]:
                del self._clients[client]


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


_attaching = threading.Lock()


def attached(app_state: Any, name: str, make: Callable[[], T]) -> T:
    """The throttle ``name`` kept on the app (``app.state``), made on first use; a test may
    set its own there first (with a clock it moves)."""
    found: T | None = getattr(app_state, name, None)
    if found is None:
        with _attaching:
            found = getattr(app_state, name, None)
            if found is None:
                found = make()
                setattr(app_state, name, found)
    return found


def peer_key(request: Request, secret: bytes) -> str | None:
    """The client key of the request's peer (``request.client.host``)."""
    return client_key(secret, request.client.host if request.client else None)


def intake_limit(request: Request, policy: Policy) -> RateLimit:
    """The app's intake limit (policy ``intake``), shared by everything that files reports."""
    limits = policy.intake
    return attached(
        request.app.state,
        "intake_limit",
        lambda: RateLimit(per_client=limits.per_client_per_hour, overall=limits.overall_per_hour),
    )


def receipt_backoff(request: Request, code: Code = "receipt") -> Backoff:
    """The app's delay after wrong receipt codes (or, ``code``, wrong codes of another kind:
    the subject's hand-over codes)."""
    return attached(request.app.state, f"{code}_backoff", Backoff)


class Refused(Exception):
    """Not now: wait ``seconds`` (``limit`` says which: "client", "overall", a Code)."""

    def __init__(self, seconds: float, limit: str) -> None:
        super().__init__(f"wait {seconds:.0f} s ({limit})")
        self.seconds, self.limit = seconds, limit


@contextmanager
def filing(request: Request, policy: Policy, secret: bytes) -> Iterator[None]:
    """One report filed under the intake limits: Refused when over them; not counted when
    it is refused as invalid (a DomainError, re-raised)."""
    client = peer_key(request, secret)
    limit = intake_limit(request, policy)
    wait, which = limit.admit(client)
    if which is not None:
        raise Refused(wait, which)
    try:
        yield
    except DomainError:
        limit.refund(client)  # no case was filed
        raise


def looked_up(
    request: Request, secret: bytes, lookup: Callable[[], T], code: Code = "receipt"
) -> T:
    """``lookup`` of a receipt code (or another ``code``), unless this client must wait
    first (Refused); a NotFound (re-raised) counts as a failed attempt."""
    client = peer_key(request, secret)
    backoff = receipt_backoff(request, code)
    wait = backoff.wait(client)
    if wait > 0:
        raise Refused(wait, code)
    try:
        return lookup()
    except NotFound:
        backoff.failed(client)
        raise


def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.qingfeng.policy  # the AppState (api/http/deps.py)
    return policy


def token_limit(request: Request) -> RateLimit:
    """The app's per-token request limit (policy ``api.per_token_per_minute``), keyed by
    the token's public id; only the per-token count applies (no overall one)."""
    per_minute = _policy(request).api.per_token_per_minute
    return attached(
        request.app.state,
        "token_limit",
        lambda: RateLimit(per_client=per_minute, overall=sys.maxsize, window=60.0),
    )


def token_admitted(request: Request, session: Session, token: str) -> None:
    """A token already authenticated, checked for age (Unauthenticated once older than
    policy ``api.token_max_age_days``) and counted against its per-minute limit (Refused, the 429,
    with Retry-After when over it; nothing counted then)."""
    found = session.exec(
        select(ApiToken.public_id, ApiToken.created_at).where(
            col(ApiToken.secret_hash) == token_hash(token)
        )
    ).first()
    if found is None:
        raise Unauthenticated("the token is unknown, revoked, or its owner is inactive")
    public_id, created_at = found
    made = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
    max_age = _policy(request).api.token_max_age_days
    if utcnow() - made > timedelta(days=max_age):
        raise Unauthenticated(
            f"the token is older than {max_age} days and has expired; "
            "make a new one at /account (or ask an administrator)"
        )
    wait, which = token_limit(request).admit(public_id)
    if which is not None:
        raise Refused(wait, "token")

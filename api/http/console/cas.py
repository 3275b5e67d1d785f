"""CAS sign-in (统一身份认证, protocol 2.0 and 3.0): the browser goes to the server's
``/login?service=…`` and comes back with a ticket, which is validated server to server at
``/serviceValidate`` (2.0) or ``/p3/serviceValidate`` (3.0); the answer's
``cas:authenticationSuccess/cas:user`` (or a configured attribute) is the handle.

A small client of our own on httpx rather than python-cas: that library sends its
requests with no timeout and logs each validation answer (the person's identity and
attributes) at DEBUG, which this project must not. Off unless ``cas_server_url`` is set."""

from __future__ import annotations

from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx

from config.settings import Settings

NS = {"cas": "http://www.yale.edu/tp/cas"}
MAX_ANSWER = 64 * 1024  # a validation answer is a few hundred bytes


class CasRefused(Exception):
    """The CAS server did not vouch for the ticket (its code, never the ticket)."""


def enabled(settings: Settings) -> bool:
    """Whether CAS sign-in is configured."""
    return bool(settings.cas_server_url)


def _base(settings: Settings) -> str:
    return settings.cas_server_url.rstrip("/")


def login_url(settings: Settings, service: str) -> str:
    """The CAS server's sign-in page, returning to ``service`` with a ticket."""
    return f"{_base(settings)}/login?{urlencode({'service': service})}"


def validate_url(settings: Settings) -> str:
    """Where tickets are validated: /serviceValidate (CAS 2.0) or /p3/serviceValidate."""
    path = "/p3/serviceValidate" if settings.cas_version == 3 else "/serviceValidate"
    return _base(settings) + path


async def validated_handle(settings: Settings, *, service: str, ticket: str) -> str:
    """The handle the CAS server vouches for with ``ticket`` for ``service``; CasRefused
    when it does not, httpx.HTTPError when it cannot be asked."""
    async with httpx.AsyncClient(timeout=settings.sso_timeout_seconds) as http:
        answer = await http.get(
            validate_url(settings), params={"service": service, "ticket": ticket}
        )
    answer.raise_for_status()
    if len(answer.content) > MAX_ANSWER:
        raise CasRefused("answer too large")
    return handle_in(answer.content, attribute=settings.cas_handle_attribute)


def handle_in(xml: bytes, *, attribute: str = "") -> str:
    """The handle in a serviceValidate answer: ``cas:user``, or the named attribute
    (``cas:attributes/cas:<attribute>``); CasRefused for a failure or a malformed answer."""
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise CasRefused("malformed answer") from exc
    failure = root.find("cas:authenticationFailure", NS)
    if failure is not None:
        raise CasRefused(failure.get("code") or "authentication failure")
    success = root.find("cas:authenticationSuccess", NS)
    if success is None:
        raise CasRefused("no authenticationSuccess")
    path = f"cas:attributes/cas:{attribute}" if attribute else "cas:user"
    value = (success.findtext(path, default="", namespaces=NS) or "").strip()
    if not value:
        raise CasRefused(f"no {attribute or 'user'} in the answer")
    return value

"""What every channel receives and how it reports a failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx


@dataclass(frozen=True)
class Outgoing:
    key: str  # unique per (event, recipient, channel): receivers drop duplicates by it
    notice: str
    reference: str
    language: str
    subject: str
    body: str
    email: str | None = None  # the recipient's own address (personal channels)
    mobile: str | None = None  # for @-mentions in group robots
    handle: str | None = None


class DeliveryError(Exception):
    """A message did not go. ``permanent``: retrying cannot help (dead-letter it now)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


Result = str | None | DeliveryError  # the receiver's id for the message, or why it failed


class Sender(Protocol):
    def send(self, messages: list[Outgoing]) -> list[Result]:
        """Send each message; one result per message, in order."""
        ...

    def close(self) -> None: ...


def post_json(
    client: httpx.Client,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST a JSON body; the decoded answer, or DeliveryError (5xx, 429, network: transient)."""
    try:
        response = client.post(
            url, content=content, headers={"Content-Type": "application/json", **(headers or {})}
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise DeliveryError(f"HTTP {response.status_code}", permanent=False)
    if response.status_code >= 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=True)
    try:
        return response.json() if response.content else {}
    except ValueError:
        return {}


def text_of(message: Outgoing) -> str:
    """Subject and body as one chat message."""
    return f"{message.subject}\n\n{message.body}".strip()


def each(messages: list[Outgoing], send_one: Any) -> list[Result]:
    """Results of sending one message at a time (chat robots take one per request)."""
    results: list[Result] = []
    for message in messages:
        try:
            results.append(send_one(message))
        except DeliveryError as exc:
            results.append(exc)
    return results


class HttpChannel:
    """A channel that POSTs one request per message through one kept-alive client."""

    def __init__(self, url: str, secret: str | None = None, timeout: float = 10.0) -> None:
        self.url, self.secret = url, secret
        self.client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def send(self, messages: list[Outgoing]) -> list[Result]:
        return each(messages, self._send_one)

    def _send_one(self, message: Outgoing) -> str | None:
        raise NotImplementedError

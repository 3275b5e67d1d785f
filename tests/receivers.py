"""Real servers for notification tests: an aiosmtpd SMTP server and HTTP receivers that
check each platform's documented request format and signature (independently of the code
under test), as the real WeCom, DingTalk and Feishu servers would."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    """Mails the SMTP server accepted, parsed."""

    mails: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.mails if m["To"] == address]


@contextmanager
def smtp_server(port: int = 0, **options: Any) -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    # ready_timeout: a busy machine may take longer than the 5 s default to start it.
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port or free_port(), ready_timeout=60, **options
    )
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Check = Callable[[Received], tuple[int, dict[str, Any]]]


@dataclass
class HttpReceiver:
    url: str
    requests: list[Received]
    accepted: list[Received]


@contextmanager
def http_receiver(check: Check) -> Iterator[HttpReceiver]:
    """An HTTP server on localhost answering each POST with ``check``'s (status, JSON)."""
    requests: list[Received] = []
    accepted: list[Received] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            received = Received(
                parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body
            )
            requests.append(received)
            status, answer = check(received)
            ok = answer.get("errcode", answer.get("code", 0)) == 0 and not answer.get("duplicate")
            if status == 200 and ok:
                accepted.append(received)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}", requests, accepted)
    finally:
        server.shutdown()
        server.server_close()


# -- each platform's rules, written from its documentation --------------------------------


def wecom(key: str) -> Check:
    """企业微信群机器人: POST /cgi-bin/webhook/send?key=KEY, msgtype text|markdown."""

    def check(r: Received) -> tuple[int, dict[str, Any]]:
        if r.path != "/cgi-bin/webhook/send" or r.query.get("key") != key:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        body = r.json
        if body.get("msgtype") != "text" or not isinstance(body["text"].get("content"), str):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        if len(body["text"]["content"].encode()) > 2048:
            return 200, {"errcode": 40058, "errmsg": "content exceed max length"}
        return 200, {"errcode": 0, "errmsg": "ok"}

    return check


def dingtalk(token: str, secret: str) -> Check:
    """钉钉自定义机器人 with 加签: /robot/send?access_token=…&timestamp=ms&sign=…"""

    def check(r: Received) -> tuple[int, dict[str, Any]]:
        if r.path != "/robot/send" or r.query.get("access_token") != token:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        timestamp = r.query.get("timestamp", "")
        expected = base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        ).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - time.time() * 1000) < 3_600_000
        if not fresh or r.query.get("sign") != expected:  # parse_qs URL-decoded it
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        body = r.json
        if body.get("msgtype") != "text" or "content" not in body.get("text", {}):
            return 200, {"errcode": 40035, "errmsg": "missing msgtype"}
        return 200, {"errcode": 0, "errmsg": "ok"}

    return check


def feishu(secret: str) -> Check:
    """飞书自定义机器人 with 签名校验: timestamp (s) and sign in the JSON body."""

    def check(r: Received) -> tuple[int, dict[str, Any]]:
        body = r.json
        timestamp = str(body.get("timestamp", ""))
        expected = base64.b64encode(
            hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
        ).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - time.time()) < 3600
        if not fresh or body.get("sign") != expected:
            return 200, {
                "code": 19021,
                "msg": "sign match fail or timestamp is not within one hour",
            }
        if body.get("msg_type") != "text" or "text" not in body.get("content", {}):
            return 200, {"code": 9499, "msg": "Bad Request"}
        return 200, {"code": 0, "msg": "success", "data": {}}

    return check


def standard_webhook(secret: str) -> Check:
    """Standard Webhooks: v1 signature over '<id>.<timestamp>.<body>'; duplicates dropped."""
    seen: set[str] = set()

    def check(r: Received) -> tuple[int, dict[str, Any]]:
        ident, timestamp = r.headers.get("webhook-id", ""), r.headers.get("webhook-timestamp", "")
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"{ident}.{timestamp}.".encode() + r.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        signatures = [s.split(",", 1)[1] for s in r.headers.get("webhook-signature", "").split()]
        if expected not in signatures or abs(int(timestamp or 0) - time.time()) > 300:
            return 401, {"error": "bad signature"}
        if ident in seen:
            return 200, {"duplicate": True}
        seen.add(ident)
        return 200, {}

    return check

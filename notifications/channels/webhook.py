"""A generic webhook signed the Standard Webhooks way: headers ``webhook-id`` (the message
key, for dropping duplicates), ``webhook-timestamp`` (seconds) and ``webhook-signature``
``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``. A secret written
``whsec_<base64>`` is used decoded, as the specification says; any other as its bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from notifications.channels.base import HttpChannel, Outgoing, post_json


def signing_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class SignedWebhook(HttpChannel):
    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        super().__init__(url, secret, timeout)
        self.signing_secret = secret

    def _send_one(self, message: Outgoing) -> str | None:
        now = int(time.time())
        body = json.dumps(
            {
                "type": f"qingfeng.{message.notice}",
                "timestamp": now,
                "data": {
                    "key": message.key,
                    "reference": message.reference,
                    "recipient": message.handle,
                    "language": message.language,
                    "subject": message.subject,
                    "body": message.body,
                },
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "webhook-id": message.key,
            "webhook-timestamp": str(now),
            "webhook-signature": signature(self.signing_secret, message.key, now, body),
        }
        post_json(self.client, self.url, content=body, headers=headers)
        return None

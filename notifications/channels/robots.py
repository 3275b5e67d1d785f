"""Chat group robots of the platforms a Chinese university uses, as each one documents:

- WeCom (企业微信) group robot: POST JSON to the robot's address (its ``key`` is in it);
  ``{"msgtype": "text", "text": {"content", "mentioned_mobile_list"}}``; ``errcode`` 0.
- DingTalk (钉钉) custom robot with 加签: ``&timestamp=<ms>&sign=<url-encoded base64
  HMAC-SHA256(secret, "<timestamp>\\n<secret>")>`` on the address; ``errcode`` 0.
- Feishu (飞书) custom bot with 签名校验: ``timestamp`` (s) and ``sign`` = base64
  HMAC-SHA256 keyed with ``"<timestamp>\\n<secret>"`` over an empty message, in the body;
  ``code`` 0.

Each platform's rate-limit answer is transient; any other error code means the robot is
misconfigured (address, secret, keyword, IP list), which retrying cannot fix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import quote_plus

from notifications.channels.base import DeliveryError, HttpChannel, Outgoing, post_json, text_of

WECOM_RATE_LIMITED = {45009}
DINGTALK_RATE_LIMITED = {130101}
FEISHU_RATE_LIMITED = {9499, 11232}


def _check(answer: object, field: str, transient: set[int]) -> None:
    code = answer.get(field, 0) if isinstance(answer, dict) else 0
    if code not in (0, None):
        message = answer.get("errmsg") or answer.get("msg") if isinstance(answer, dict) else ""
        raise DeliveryError(f"{field} {code}: {message}", permanent=code not in transient)


class WeComRobot(HttpChannel):
    def _send_one(self, message: Outgoing) -> str | None:
        text: dict[str, object] = {"content": text_of(message)}
        if message.mobile:
            text["mentioned_mobile_list"] = [message.mobile]
        body = {"msgtype": "text", "text": text}
        answer = post_json(self.client, self.url, content=json.dumps(body).encode())
        _check(answer, "errcode", WECOM_RATE_LIMITED)
        return None


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobot(HttpChannel):
    def _send_one(self, message: Outgoing) -> str | None:
        url = self.url
        if self.secret:
            now = int(time.time() * 1000)
            url += f"&timestamp={now}&sign={quote_plus(dingtalk_sign(self.secret, now))}"
        body = {
            "msgtype": "text",
            "text": {"content": text_of(message)},
            "at": {"atMobiles": [message.mobile] if message.mobile else [], "isAtAll": False},
        }
        answer = post_json(self.client, url, content=json.dumps(body).encode())
        _check(answer, "errcode", DINGTALK_RATE_LIMITED)
        return None


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuRobot(HttpChannel):
    def _send_one(self, message: Outgoing) -> str | None:
        body: dict[str, object] = {"msg_type": "text", "content": {"text": text_of(message)}}
        if self.secret:
            now = int(time.time())
            body |= {"timestamp": str(now), "sign": feishu_sign(self.secret, now)}
        answer = post_json(self.client, self.url, content=json.dumps(body).encode())
        _check(answer, "code", FEISHU_RATE_LIMITED)
        return None

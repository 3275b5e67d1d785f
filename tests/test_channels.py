"""Each channel against a real local server that checks its documented format."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.channels.base import DeliveryError, Outgoing
from notifications.channels.email import PickupDirectory, SmtpSender, SmtpSettings, message_id
from notifications.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from notifications.channels.webhook import SignedWebhook
from tests.receivers import (
    Received,
    dingtalk,
    feishu,
    free_port,
    http_receiver,
    smtp_server,
    standard_webhook,
    wecom,
)

MESSAGE = Outgoing(
    key="msg:7:3:12:email",
    notice="decision_notice",
    reference="QF-2026-00007",
    language="zh-CN",
    subject="【清风】QF-2026-00007 处理决定告知",
    body="张同学，您好：\n\n处理决定：警告。\n",
    email="zhang@univ.example",
    mobile="13800000000",
    handle="stu.zhang",
)
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_wecom_group_robot_posts_text_with_mention() -> None:
    with http_receiver(wecom("k-123")) as receiver:
        robot = WeComRobot(f"{receiver.url}/cgi-bin/webhook/send?key=k-123")
        assert robot.send([MESSAGE]) == [None]
        wrong = WeComRobot(f"{receiver.url}/cgi-bin/webhook/send?key=other")
        [error] = wrong.send([MESSAGE])
    assert len(receiver.accepted) == 1
    text = receiver.accepted[0].json["text"]
    assert MESSAGE.subject in text["content"] and text["mentioned_mobile_list"] == [MESSAGE.mobile]
    assert isinstance(error, DeliveryError) and error.permanent and "93000" in str(error)


def test_dingtalk_robot_signs_each_request() -> None:
    with http_receiver(dingtalk("tok", "SECabc123")) as receiver:
        good = DingTalkRobot(f"{receiver.url}/robot/send?access_token=tok", "SECabc123")
        assert good.send([MESSAGE, MESSAGE]) == [None, None]
        [error] = DingTalkRobot(f"{receiver.url}/robot/send?access_token=tok", "SECwrong").send(
            [MESSAGE]
        )
    assert len(receiver.accepted) == 2
    assert receiver.accepted[0].json["at"] == {"atMobiles": [MESSAGE.mobile], "isAtAll": False}
    assert isinstance(error, DeliveryError) and error.permanent and "310000" in str(error)


def test_feishu_bot_signs_the_body() -> None:
    with http_receiver(feishu("fs-secret")) as receiver:
        assert FeishuRobot(receiver.url + "/open-apis/bot/v2/hook/x", "fs-secret").send(
            [MESSAGE]
        ) == [None]
        [error] = FeishuRobot(receiver.url + "/open-apis/bot/v2/hook/x", "nope").send([MESSAGE])
    assert receiver.accepted[0].json["content"]["text"].startswith(MESSAGE.subject)
    assert isinstance(error, DeliveryError) and error.permanent and "19021" in str(error)


def _answer(status: int, body: dict[str, Any]) -> Any:
    return lambda _: (status, body)


@pytest.mark.parametrize(
    ("robot", "status", "answer", "permanent"),
    [
        (DingTalkRobot, 200, {"errcode": 130101, "errmsg": "send too fast"}, False),
        (WeComRobot, 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, False),
        (FeishuRobot, 200, {"code": 11232, "msg": "frequency limited"}, False),
        (DingTalkRobot, 500, {}, False),
        (WeComRobot, 429, {}, False),
        (FeishuRobot, 404, {}, True),
        (DingTalkRobot, 200, {"errcode": 300001, "errmsg": "token is not exist"}, True),
    ],
)
def test_rate_limits_and_server_errors_are_transient(
    robot: type[WeComRobot], status: int, answer: dict[str, Any], permanent: bool
) -> None:
    with http_receiver(_answer(status, answer)) as receiver:
        [error] = robot(f"{receiver.url}/send?key=k", "secret").send([MESSAGE])
    assert isinstance(error, DeliveryError) and error.permanent is permanent


def test_unreachable_robot_is_transient() -> None:
    [error] = WeComRobot(f"http://127.0.0.1:{free_port()}/cgi-bin/webhook/send?key=k").send(
        [MESSAGE]
    )
    assert isinstance(error, DeliveryError) and not error.permanent


def test_signed_webhook_carries_the_key_so_receivers_drop_duplicates() -> None:
    with http_receiver(standard_webhook(WEBHOOK_SECRET)) as receiver:
        hook = SignedWebhook(receiver.url + "/hooks/qingfeng", WEBHOOK_SECRET)
        assert hook.send([MESSAGE, MESSAGE]) == [None, None]  # e.g. re-sent after a crash
        [error] = SignedWebhook(receiver.url, "whsec_" + "A" * 32).send([MESSAGE])
    assert len(receiver.requests) == 3 and len(receiver.accepted) == 1
    first: Received = receiver.accepted[0]
    assert first.headers["webhook-id"] == MESSAGE.key
    data = first.json["data"]
    assert first.json["type"] == "qingfeng.decision_notice"
    assert (data["key"], data["recipient"], data["subject"]) == (
        MESSAGE.key,
        MESSAGE.handle,
        MESSAGE.subject,
    )
    assert isinstance(error, DeliveryError) and error.permanent  # 401


def test_smtp_sends_real_mail_with_stable_message_id() -> None:
    with smtp_server() as (controller, mailbox):
        sender = SmtpSender(SmtpSettings("127.0.0.1", controller.port, sender="tw@univ.example"))
        assert sender.send([MESSAGE]) == [message_id(MESSAGE.key)]
    [mail] = mailbox.to(MESSAGE.email or "")
    assert mail["Subject"] == MESSAGE.subject and mail["From"] == "tw@univ.example"
    assert mail["Message-ID"] == message_id(MESSAGE.key)
    assert mail["X-Qingfeng-Key"] == MESSAGE.key
    assert "处理决定：警告" in mail.get_content()


def test_smtp_unreachable_is_transient_and_no_address_is_permanent() -> None:
    sender = SmtpSender(SmtpSettings("127.0.0.1", free_port(), timeout=2))
    [error] = sender.send([MESSAGE])
    assert isinstance(error, DeliveryError) and not error.permanent
    with smtp_server() as (controller, mailbox):
        ok = SmtpSender(SmtpSettings("127.0.0.1", controller.port))
        [no_address, sent] = ok.send([Outgoing(**{**MESSAGE.__dict__, "email": None}), MESSAGE])
    assert isinstance(no_address, DeliveryError) and no_address.permanent
    assert sent == message_id(MESSAGE.key) and len(mailbox.mails) == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_smtp_starttls_with_a_private_ca(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    with smtp_server(tls_context=server_tls, require_starttls=True) as (controller, mailbox):
        plain = SmtpSender(SmtpSettings("127.0.0.1", controller.port))
        [refused] = plain.send([MESSAGE])  # the server insists on STARTTLS
        tls = SmtpSender(
            SmtpSettings("127.0.0.1", controller.port, security="starttls", ca_file=cert)
        )
        assert tls.send([MESSAGE]) == [message_id(MESSAGE.key)]
        untrusted = SmtpSender(SmtpSettings("127.0.0.1", controller.port, security="starttls"))
        [unverified] = untrusted.send([MESSAGE])
    assert isinstance(refused, DeliveryError) and len(mailbox.mails) == 1
    assert isinstance(unverified, DeliveryError)  # a certificate we cannot verify: no mail


def test_pickup_directory_writes_one_file_per_message(tmp_path: Path) -> None:
    pickup = PickupDirectory(tmp_path / "mail", "qingfeng@localhost")
    assert pickup.send([MESSAGE, MESSAGE]) == [message_id(MESSAGE.key)] * 2
    [written] = (tmp_path / "mail").glob("*.eml")
    mail = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert (mail["Subject"], mail["To"]) == (MESSAGE.subject, MESSAGE.email)
    assert oct(written.stat().st_mode & 0o777) == "0o600"

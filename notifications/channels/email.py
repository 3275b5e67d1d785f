"""E-mail through the configured SMTP server (plain, STARTTLS or implicit TLS), one
connection per batch, or, with no server configured, into a pickup directory of .eml
files (for a first start and demos: not a mailbox; it keeps no receipt code and no link
token, see docs/data-at-rest.md). The Message-ID is derived from the message key, so
a copy sent twice after a crash is recognisably the same mail."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.header import Header
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate
from pathlib import Path

from cases.people.secrets import RECEIPT_ALPHABET
from notifications.channels.base import DeliveryError, Outgoing, Result


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    sender: str = "qingfeng@localhost"
    timeout: float = 10.0
    ca_file: Path | None = None  # a private CA (campus mail servers often use one)


ON_THE_WIRE = compat32.clone(linesep="\r\n")  # SMTP wants CRLF; smtplib sends bytes as given


def message_id(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@qingfeng>"


def compose(message: Outgoing, sender: str) -> MIMEText:
    # The compat32 classes: a tenth of EmailMessage's cost, and the same mail on the wire.
    mail = MIMEText(message.body, "plain", "utf-8")
    mail["From"] = sender
    mail["To"] = message.email or ""
    mail["Subject"] = Header(message.subject, "utf-8", header_name="Subject").encode()
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id(message.key)
    mail["Content-Language"] = message.language
    mail["X-Qingfeng-Key"] = message.key
    return mail


class SmtpSender:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:  # loading the system CAs costs ~30 ms: once per sender
            ca_file = self.settings.ca_file
            self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        return self._tls

    def close(self) -> None:
        pass

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout, context=self._context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=self._context())
        if s.username:
            smtp.login(s.username, s.password or "")
        return smtp

    def send(self, messages: list[Outgoing]) -> list[Result]:
        try:
            smtp = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            return [DeliveryError(f"SMTP login refused: {exc.smtp_code}", permanent=True)] * len(
                messages
            )
        except (OSError, smtplib.SMTPException) as exc:
            return [DeliveryError(f"SMTP unreachable: {exc}", permanent=False)] * len(messages)
        results: list[Result] = []
        try:
            for message in messages:
                results.append(self._send_one(smtp, message))
                if isinstance(results[-1], DeliveryError) and not results[-1].permanent:
                    break  # the connection is suspect: the rest wait for the next attempt
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
        lost = DeliveryError("not attempted: the connection failed", permanent=False)
        return results + [lost] * (len(messages) - len(results))

    def _send_one(self, smtp: smtplib.SMTP, message: Outgoing) -> Result:
        if not message.email:
            return DeliveryError("the recipient has no e-mail address", permanent=True)
        try:
            smtp.sendmail(
                self.settings.sender,
                [message.email],
                compose(message, self.settings.sender).as_bytes(policy=ON_THE_WIRE),
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return DeliveryError(f"recipient refused: {codes}", permanent=min(codes) >= 500)
        except smtplib.SMTPResponseException as exc:
            answer = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            return DeliveryError(
                f"SMTP {exc.smtp_code} {answer}"[:300], permanent=exc.smtp_code >= 500
            )
        except (OSError, smtplib.SMTPException) as exc:
            return DeliveryError(f"SMTP failed: {exc}", permanent=False)
        return message_id(message.key)


# The secrets a mail may carry: the reporter's receipt code and the subject's link token
# (in /s/<token>). The mail sent is their only copy: the pickup folder keeps them masked.
_SYMBOL = f"[{RECEIPT_ALPHABET}]"
RECEIPT_CODE = re.compile(rf"(?<![0-9A-Z]){_SYMBOL}{{4}}(?:-{_SYMBOL}{{4}}){{3}}(?![0-9A-Z])")
LINK_TOKEN = re.compile(r"(/s/)[A-Za-z0-9_-]{16,}")
MASKED_CODE, MASKED_TOKEN = "XXXX-XXXX-XXXX-XXXX", r"\1XXXXXXXX"


def masked(text: str) -> str:
    """``text`` with every receipt code and link token replaced by a mask."""
    return LINK_TOKEN.sub(MASKED_TOKEN, RECEIPT_CODE.sub(MASKED_CODE, text))


class PickupDirectory:
    """Writes each mail as ``<message id>.eml`` (0600) into a directory (0700) instead of
    sending it, its receipt codes and link tokens masked."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory, self.sender = directory, sender

    def close(self) -> None:
        pass

    def send(self, messages: list[Outgoing]) -> list[Result]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        results: list[Result] = []
        for message in messages:
            if not message.email:
                results.append(DeliveryError("the recipient has no e-mail address", permanent=True))
                continue
            ident = message_id(message.key)
            path = self.directory / f"{ident.strip('<>').split('@')[0]}.eml"
            path.touch(mode=0o600)
            path.chmod(0o600)
            kept = dataclasses.replace(
                message, subject=masked(message.subject), body=masked(message.body)
            )
            path.write_bytes(compose(kept, self.sender).as_bytes())
            results.append(ident)
        return results

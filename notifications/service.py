"""The notification dispatcher as a service of `qingfeng up`: woken after each commit that
wrote a notification, delivery or message row, and every few seconds (for retries that
fell due and for rows other processes wrote)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import structlog

from cases import signals
from cases.outbox import NOTIFICATION_TOPICS, WRITTEN
from cases.procedure.clock import utcnow
from cases.procedure.policy import Policy
from cases.store.db import Database
from config.settings import Settings
from notifications.channels.base import Sender
from notifications.channels.email import PickupDirectory, SmtpSender, SmtpSettings
from notifications.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from notifications.channels.webhook import SignedWebhook
from notifications.expand import Expander
from notifications.routes import Channel, Routes, load_routes
from notifications.sending import MessageSender, RetryPolicy

log = structlog.get_logger("qingfeng.notifications")


def smtp_settings(settings: Settings) -> SmtpSettings:
    return SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() or None,
        sender=settings.mail_from,
        timeout=settings.smtp_timeout,
        ca_file=settings.smtp_ca_file,
    )


def sender_for(channel: Channel, smtp: SmtpSettings, pickup: Path) -> Sender:
    """The sender of one configured channel (mail without a server goes to ``pickup``)."""
    if channel.kind == "email":
        return SmtpSender(smtp) if smtp.host else PickupDirectory(pickup, smtp.sender)
    assert channel.url is not None  # load_routes requires it for every other kind
    if channel.kind == "wecom":
        return WeComRobot(channel.url)
    if channel.kind == "dingtalk":
        return DingTalkRobot(channel.url, channel.secret)
    if channel.kind == "feishu":
        return FeishuRobot(channel.url, channel.secret)
    assert channel.secret is not None
    return SignedWebhook(channel.url, channel.secret)


class Dispatcher:
    """Expands and sends until nothing is due; ``tick`` is one such pass."""

    def __init__(
        self,
        db: Database,
        policy: Policy,
        routes: Routes,
        *,
        smtp: SmtpSettings,
        pickup: Path,
        secret: bytes,
        retry: RetryPolicy,
        portal_url: str,
        interval: float = 2.0,
        pause: float = 0.0,
    ) -> None:
        self.db = db
        self.expander = Expander(policy, routes, portal_url, secret=secret)
        senders = {name: sender_for(c, smtp, pickup) for name, c in routes.channels.items()}
        self.sender = MessageSender(db, senders, secret=secret, retry=retry)
        self.interval, self.pause = interval, pause
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None
        self._unlisten = lambda: None

    @classmethod
    def from_settings(
        cls, db: Database, policy: Policy, settings: Settings, secret: bytes
    ) -> Dispatcher:
        """Built from the settings and the notifications file (NotificationsError if broken)."""
        return cls(
            db,
            policy,
            load_routes(settings.notifications_file),
            smtp=smtp_settings(settings),
            pickup=settings.data_dir / "mail",
            secret=secret,
            retry=RetryPolicy(
                first_delay=settings.notify_backoff_seconds,
                max_delay=settings.notify_backoff_max_seconds,
                max_attempts=settings.notify_max_attempts,
            ),
            portal_url=settings.portal_url,
            pause=0.02,
        )

    def tick(self, now: datetime | None = None) -> int:
        """Expand then send everything due at ``now``; returns how many rows were handled."""
        handled = 0
        while True:
            moment = now or utcnow()
            done = self.expander.expand(db=self.db, now=moment)
            done += self.sender.send_due(now=moment)
            handled += done
            if not done or self._stop.is_set():
                return handled
            self.db.checkpoint_wal()  # we wrote most of the WAL: we copy it back, not staff
            if self.pause:  # let staff actions at the write lock between our batches
                self._stop.wait(self.pause)

    def wake(self) -> None:
        """Look for due rows now rather than at the next interval."""
        self._wake.set()

    def start(self) -> None:
        self._unlisten = signals.listen(WRITTEN, self._on_outbox)
        self._thread = threading.Thread(target=self._run, name="notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._unlisten()
        if self._thread:
            self._thread.join(timeout=30)
        self.sender.close()

    def _on_outbox(self, topics: set[str]) -> None:
        if topics.intersection(NOTIFICATION_TOPICS):
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # logged and retried at the next wake-up
                log.exception("notification tick failed")
            self._wake.wait(self.interval)
            self._wake.clear()

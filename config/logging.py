"""structlog set-up. Log events carry references and ids, never names, contacts or codes."""

from __future__ import annotations

import logging

import structlog

from config.settings import Settings


def configure_logging(settings: Settings) -> None:
    """Console logs for people, JSON lines when QINGFENG_LOG_JSON is set."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(message)s")
    # Chatty libraries: one line per HTTP call or scheduler job is noise, not news.
    # fontTools logs each font subset it makes for a PDF at INFO.
    for name in ("httpx", "apscheduler", "alembic.runtime.migration", "fontTools"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )

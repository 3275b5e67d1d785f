"""GET /metrics: Prometheus metrics in the text exposition format (not /performance,
the 述职 figures). The metrics are defined in config.telemetry; here are the request
counter's middleware, the outbox gauges read from the database at each scrape, and the
endpoint.

Who may scrape: a direct connection from this machine's loopback address (no proxy's
forwarding header), or anyone with an admin's personal access token as bearer.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from ipaddress import ip_address

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import ColumnElement, String, case, cast, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.deps import OptionalUser, StateDep
from cases.outbox import CHANNEL_SEND, OUTBOX
from cases.people.access import global_roles
from cases.procedure.errors import Forbidden, Unauthenticated
from cases.procedure.vocabulary import Role
from cases.store.db import Database, UnitOfWork
from cases.store.models import OutboxState
from config import telemetry

log = structlog.get_logger("qingfeng.prometheus")
router = APIRouter()
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route took (never its path)
BACKLOG = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.STARTED)
FORWARDED = ("forwarded", "x-forwarded-for")


def install(app: FastAPI) -> None:
    """Count every request and serve /metrics on ``app``."""
    app.add_middleware(RequestMetrics)
    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, state: StateDep, user: OptionalUser) -> Response:
    if not _direct_local(request):
        if user is None:
            raise Unauthenticated("send an admin's personal access token as 'Bearer qf_…'")
        with UnitOfWork(state.db, write=False) as uow:
            if Role.ADMIN not in global_roles(uow.session, user.id or 0):
                raise Forbidden("only an admin may read the metrics from another machine")
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(Scrape(state.db)), media_type=content_type)


def _direct_local(request: Request) -> bool:
    """Whether the caller is on this machine and not relayed by a proxy."""
    if request.client is None or any(name in request.headers for name in FORWARDED):
        return False
    try:
        return ip_address(request.client.host).is_loopback
    except ValueError:  # not an address (a test client's name)
        return False


class Scrape:
    """What one scrape reads: our metrics, summed over `up`'s processes when they share
    a directory, and the outbox gauges."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        directory = telemetry.shared_directory()
        recorded: Iterable[Metric] = (
            REGISTRY.collect()
            if directory is None
            else MultiProcessCollector(None, str(directory)).collect()
        )
        # Only ours: not the libraries' (Prefect counts its own) nor the process's.
        yield from (metric for metric in recorded if metric.name.startswith(telemetry.PREFIX))
        yield from outbox_gauges(self.db)


def outbox_gauges(db: Database) -> list[Metric]:
    """Rows waiting or in flight, and dead letters, by topic and (messages) channel:
    counted through the (state, available_at) index, never over the rows that are done."""
    labels = ["topic", "channel"]
    backlog = GaugeMetricFamily(
        "qingfeng_outbox_backlog", "Outbox rows waiting or in flight.", labels=labels
    )
    dead = GaugeMetricFamily(
        "qingfeng_outbox_dead_letters", "Outbox rows given up on (dead).", labels=labels
    )
    waiting: dict[tuple[str, str], int] = {}
    try:
        with db.reader.connect() as connection:
            channel = _channel(connection.dialect.name).label("channel")
            rows = connection.execute(
                select(OUTBOX.c.state, OUTBOX.c.topic, channel, func.count())
                .where(OUTBOX.c.state.in_([*BACKLOG, OutboxState.DEAD]))
                .group_by(OUTBOX.c.state, OUTBOX.c.topic, channel)
            ).all()
    except SQLAlchemyError:  # the other metrics still answer
        log.warning("cannot read the outbox for the metrics", exc_info=True)
        return []
    for state, topic, via, count in rows:
        key = (topic, via or "")
        if state == OutboxState.DEAD:
            dead.add_metric(list(key), count)
        else:
            waiting[key] = waiting.get(key, 0) + count
    for key, count in waiting.items():
        backlog.add_metric(list(key), count)
    return [backlog, dead]


def _channel(dialect: str) -> ColumnElement[str]:
    """A message row's channel (from its JSON payload); empty for other topics."""
    payload = OUTBOX.c.payload
    if dialect == "postgresql":
        via: ColumnElement[str] = cast(payload, JSONB)["channel"].astext
    else:
        via = func.json_extract(payload, "$.channel", type_=String)
    return case((OUTBOX.c.topic == CHANNEL_SEND, via), else_="")


class RequestMetrics:
    """Counts and times each HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500  # what an unhandled error becomes

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            # The template the router matched (set on the scope), never the raw path.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            telemetry.HTTP_REQUESTS.labels(method=method, route=route, status=status).inc()
            telemetry.HTTP_DURATION.labels(method=method, route=route).observe(
                time.perf_counter() - started
            )

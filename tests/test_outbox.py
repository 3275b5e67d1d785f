"""Dead letters, retries, leases, routing and the operator's view (API and CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.deps import AppState
from cases.outbox import CHANNEL_SEND, claim
from cases.procedure.clock import utcnow
from cases.store.db import UnitOfWork
from cases.store.models import OutboxRow, Person
from config.settings import get_settings
from notifications.routes import (
    Channel,
    NotificationsError,
    Route,
    Routes,
    RoutingFacts,
    load_routes,
)
from tests.conftest import BOTH_DATABASES, bearer
from tests.helpers import file
from tests.notify_helpers import dispatcher, keys_of, outbox_states, run_stage_work
from tests.receivers import http_receiver, smtp_server, standard_webhook

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _messages(state: AppState, channel: str | None = None) -> list[OutboxRow]:
    with UnitOfWork(state.db, write=False) as uow:
        rows = uow.session.exec(select(OutboxRow).where(OutboxRow.topic == CHANNEL_SEND)).all()
    return [r for r in rows if channel is None or f'"channel":"{channel}"' in r.payload]


@BOTH_DATABASES
def test_a_message_that_always_fails_ends_dead_then_an_operator_retries_it(
    state: AppState,
    people: dict[str, Person],
    tokens: dict[str, str],
    client: TestClient,
    clock: time_machine.Coordinates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = {"on": True}

    def gateway(received: object) -> tuple[int, dict[str, object]]:
        return (503, {}) if broken["on"] else standard_webhook(SECRET)(received)  # type: ignore[arg-type]

    with smtp_server() as (controller, mailbox), http_receiver(gateway) as receiver:
        hook = Channel("gateway", "webhook", receiver.url + "/qingfeng", SECRET)
        notify = dispatcher(
            state,
            controller.port,
            channels=(hook,),
            routes=(Route(channel="gateway", roles=["secretary"]),),
            max_attempts=3,
        )
        file(state)
        run_stage_work(state)
        for _ in range(5):  # three attempts, each after its backoff, then nothing more
            notify.tick()
            clock.shift(timedelta(minutes=20))
        [dead] = _messages(state, "gateway")
        assert (dead.state, dead.attempts) == ("dead", 3) and "503" in (dead.last_error or "")
        assert len(receiver.requests) == 3
        assert len(mailbox.to("sec.li@qingfeng.example")) == 1  # e-mail went; only the hook died

        listed = client.get("/outbox?state=dead", headers=bearer(tokens["sec.li"]))
        assert listed.status_code == 200
        [entry] = listed.json()["items"]
        assert (entry["id"], entry["channel"], entry["notice"]) == (
            dead.id,
            "gateway",
            "report_received",
        )
        forbidden = client.get("/outbox", headers=bearer(tokens["inv.wang"]))
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"].startswith("application/problem+json")

        monkeypatch.setenv("QINGFENG_DATABASE_URL", state.db.url)
        get_settings.cache_clear()
        runner = CliRunner()
        shown = runner.invoke(cli, ["outbox", "list", "--dead"])
        assert shown.exit_code == 0 and "gateway" in shown.output and str(dead.id) in shown.output
        broken["on"] = False
        retried = runner.invoke(cli, ["outbox", "retry", str(dead.id)])
        assert retried.exit_code == 0, retried.output
        again = runner.invoke(cli, ["outbox", "retry", str(dead.id)])
        assert again.exit_code == 1 and "not dead" in again.output
        get_settings.cache_clear()
        notify.tick()
    [sent] = _messages(state, "gateway")
    assert (sent.state, sent.attempts) == ("done", 1)
    assert [r.headers["webhook-id"] for r in receiver.accepted] == [sent.key]
    not_dead = client.post(f"/outbox/{sent.id}/retry", headers=bearer(tokens["sec.li"]))
    assert not_dead.status_code == 422 and not_dead.json()["field"] == "id"


def test_a_send_interrupted_by_a_crash_is_retried_after_its_lease(
    state: AppState, people: dict[str, Person], clock: time_machine.Coordinates
) -> None:
    file(state)
    run_stage_work(state)
    with smtp_server() as (controller, mailbox):
        notify = dispatcher(state, controller.port)
        notify.expander.expand(db=state.db, now=utcnow())
        with UnitOfWork(state.db) as uow:  # a worker claims the messages, then dies
            taken = claim(
                uow.session,
                topics=(CHANNEL_SEND,),
                now=utcnow(),
                lease_until=utcnow() + timedelta(minutes=5),
                batch=100,
                sqlite=True,
            )
            uow.commit()
        assert taken
        notify.tick()
        assert mailbox.mails == []  # leased: no other worker sends them meanwhile
        clock.shift(timedelta(minutes=6))
        notify.tick()
    assert sorted(keys_of(mailbox.mails)) == sorted(t.key for t in taken)
    assert {(r.state, r.attempts) for r in _messages(state)} == {("done", 2)}


def test_expanding_twice_adds_nothing(
    state: AppState, people: dict[str, Person], clock: time_machine.Coordinates
) -> None:
    file(state)
    run_stage_work(state)
    notify = dispatcher(state, 1)
    notify.expander.expand(db=state.db, now=utcnow())
    before = outbox_states(state, CHANNEL_SEND)
    with UnitOfWork(state.db) as uow:  # as if the batch's commit had been lost
        uow.session.execute(
            OutboxRow.__table__.update()
            .values(state="pending")  # type: ignore[attr-defined]
            .where(OutboxRow.__table__.c.topic == "delivery")  # type: ignore[attr-defined]
        )
        uow.commit()
    notify.expander.expand(db=state.db, now=utcnow())
    assert outbox_states(state, CHANNEL_SEND) == before == {"pending": before["pending"]}


STAFF = RoutingFacts("inv.wang", frozenset({"investigator"}), ("univ", "cs-su"))
SUBJECT = RoutingFacts("stu.zhang", frozenset({"subject"}), ("univ", "cs-su"))


def _routes(*routes: Route) -> Routes:
    names = {r.channel for r in routes}
    return Routes({n: Channel(n, "email" if n == "email" else "wecom", "u") for n in names}, routes)


def test_routes_match_unit_role_and_person_in_file_order() -> None:
    routes = _routes(
        Route(channel="feishu-wang", people=["inv.wang"], final=True),
        Route(channel="email"),
        Route(channel="cs-group", units=["cs-su"], roles=["investigator"]),
        Route(channel="law-group", units=["law-su"]),
    )
    assert [c.name for c in routes.channels_for(STAFF)] == ["feishu-wang"]
    other = RoutingFacts("inv.zhao", frozenset({"investigator"}), ("univ", "cs-su"))
    assert [c.name for c in routes.channels_for(other)] == ["email", "cs-group"]
    assert [c.name for c in routes.channels_for(SUBJECT)] == ["email"]


def test_group_robots_never_carry_messages_to_reporter_or_subject(
    state: AppState, people: dict[str, Person], clock: time_machine.Coordinates
) -> None:
    from tests.notify_helpers import file_named_report

    with http_receiver(lambda r: (200, {"errcode": 0})) as receiver:
        group = Channel("all-wecom", "wecom", receiver.url)
        notify = dispatcher(state, 1, channels=(group,), routes=(Route(channel="all-wecom"),))
        file_named_report(state, people["inv.zhao"], "stu.zhang")
        run_stage_work(state)
        notify.expander.expand(db=state.db, now=utcnow())
    audiences = {
        r.payload.split('"audience":"')[1].split('"')[0] for r in _messages(state, "all-wecom")
    }
    assert audiences == {"secretary"}


def test_a_broken_notifications_file_names_file_field_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yaml"
    path.write_text("channels:\n  mail: {kind: email}\nroutes:\n  - {channel: email}\n")
    with pytest.raises(
        NotificationsError,
        match=r"notifications.yaml: field routes.0.channel: unknown channel 'email'",
    ):
        load_routes(path)
    path.write_text(
        "channels:\n  ding: {kind: dingtalk, url_env: DING_URL}\nroutes:\n  - {channel: ding}\n"
    )
    with pytest.raises(
        NotificationsError, match=r"channels\.ding\.url_env: environment variable DING_URL"
    ):
        load_routes(path, environ={})
    routes = load_routes(
        path, environ={"DING_URL": "https://oapi.dingtalk.com/robot/send?access_token=x"}
    )
    assert routes.channels["ding"].url and routes.channels["ding"].secret is None
    path.write_text("channels: [\n")
    with pytest.raises(NotificationsError, match=r"notifications.yaml:\d+:\d+: not valid YAML"):
        load_routes(path)

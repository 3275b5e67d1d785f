"""The console's admin pages (units, people, relationships, tokens) and the operators'
dead-letter page: each lists what it should, its forms go through the same service
functions as the CLI and the API, errors stand beside their field with nothing written,
CSRF is refused, and anyone outside gets the 404 of a page that does not exist."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.routing import APIRoute, APIRouter
from fastapi.testclient import TestClient
from sqlmodel import col, select

from api.http.app import create_app
from api.http.console import admin
from api.http.deps import AppState
from cases.people.directory import declare_relationship
from cases.people.grants import deactivate_person, grant_role, revoke_role
from cases.people.sessions import set_password
from cases.procedure.errors import Forbidden, InvalidInput, NotFound
from cases.procedure.vocabulary import Role
from cases.store.db import UnitOfWork
from cases.store.models import ApiToken, AuditEvent, OutboxRow, Person, RoleGrant, Unit
from notifications.routes import Channel, Route
from tests.conftest import bearer
from tests.helpers import file
from tests.notify_helpers import dispatcher, run_stage_work
from tests.receivers import http_receiver, smtp_server
from tests.test_signin import PASSWORD, form_token, sign_in

ERROR = re.compile(r'<p class="error" id="e-([a-z]+)" role="alert">([^<]*)</p>')


@pytest.fixture
def app_client(state: AppState, tokens: dict[str, str]) -> Iterator[TestClient]:
    """The app, with console passwords for the admin, a secretary and an investigator."""
    for handle in ("admin", "sec.li", "inv.wang"):
        set_password(uow=UnitOfWork(state.db), handle=handle, password=PASSWORD)
    with TestClient(create_app(state), client=("192.0.2.9", 50000)) as test_client:
        yield test_client


@pytest.fixture
def as_admin(app_client: TestClient) -> TestClient:
    sign_in(app_client, "admin")
    return app_client


def _person(state: AppState, handle: str) -> Person:
    with UnitOfWork(state.db, write=False) as uow:
        return uow.session.exec(select(Person).where(Person.handle == handle)).one()


def _errors(html: str) -> dict[str, str]:
    return dict(ERROR.findall(html))


def test_each_admin_page_lists_what_it_should(as_admin: TestClient, state: AppState) -> None:
    declare_relationship(uow=UnitOfWork(state.db), handle="inv.wang", other="ver.liu", kind="室友")
    units = as_admin.get("/console/admin/units")
    assert units.status_code == 200
    assert units.text.index("校团委") < units.text.index("计算机学院学生会")
    assert 'class="depth-1"><span class="unit-name">计算机学院学生会' in units.text
    people = as_admin.get("/console/admin/people")
    assert people.status_code == 200 and people.headers["cache-control"] == "no-store"
    wang = people.text[people.text.index('id="person-inv.wang"') :]
    wang = wang[: wang.index("</li>")]
    for shown in ("王调查", "校团委", "调查人员 @ league", "inv.wang@qingfeng.example"):
        assert shown in wang
    found = as_admin.get("/console/admin/people", params={"q": "调查"})
    assert "王调查" in found.text and "赵调查" in found.text and "李书记" not in found.text
    assert "inv.zhao" in as_admin.get("/console/admin/people?q=ZHAO").text
    relationships = as_admin.get("/console/admin/relationships?lang=en")
    assert "室友" in relationships.text and "ver.liu" in relationships.text
    tokens = as_admin.get("/console/admin/tokens")
    with UnitOfWork(state.db, write=False) as uow:
        ids = [t.public_id for t in uow.session.exec(select(ApiToken))]
    assert len(ids) == 11 and all(f'id="token-{i}"' in tokens.text for i in ids)
    assert "hash" not in tokens.text
    outbox = as_admin.get("/console/ops/outbox?lang=zh-CN")
    assert outbox.status_code == 200 and "没有发送失败的通知" in outbox.text


def test_a_units_file_is_imported_or_nothing_is(as_admin: TestClient, state: AppState) -> None:
    token = form_token(as_admin, "/console/admin/units")
    bad = "code,name_zh,name_en,parent\nart-su,美术学院学生会,Art Student Union,league\nx,,X,\n"
    refused = as_admin.post(
        "/console/admin/units/import",
        data={"form_token": token},
        files={"file": ("units.csv", bad.encode(), "text/csv")},
    )
    assert refused.status_code == 422
    assert "units.csv:3: missing name_zh" in _errors(refused.text)["file"]
    loop = (
        "- {code: a, name_zh: 甲, name_en: A, parent: b}\n"
        "- {code: b, name_zh: 乙, name_en: B, parent: a}\n"
    )
    looped = as_admin.post(
        "/console/admin/units/import",
        data={"form_token": token},
        files={"file": ("org.yaml", loop.encode(), "application/yaml")},
    )
    assert looped.status_code == 422 and "org.yaml:1" in _errors(looped.text)["file"]
    with UnitOfWork(state.db, write=False) as uow:
        codes = set(uow.session.exec(select(Unit.code)))
    assert not codes & {"art-su", "a", "b"}  # nothing half-written
    good = bad.replace("x,,X,\n", "")
    done = as_admin.post(
        "/console/admin/units/import",
        data={"form_token": token},
        files={"file": ("units.csv", good.encode(), "text/csv")},
    )
    assert done.status_code == 200 and "读取 1 个单位，其中新增 1 个" in done.text
    assert "美术学院学生会" in done.text


def test_contact_details_are_corrected_and_a_bad_email_stays_beside_its_field(
    as_admin: TestClient, state: AppState
) -> None:
    url = "/console/admin/people/inv.zhao"
    token = form_token(as_admin, url)
    fields = {"name": "赵调查", "email": "zhao@univ.example", "phone": "+86 10 1234 5678"}
    saved = as_admin.post(f"{url}/contacts", data={**fields, "language": "en", "form_token": token})
    assert saved.status_code == 200 and "联系方式已保存" in saved.text
    zhao = _person(state, "inv.zhao")
    assert (zhao.email, zhao.phone, zhao.language) == (fields["email"], fields["phone"], "en")
    wrong = {**fields, "name": "赵新名", "email": "not-an-email", "form_token": token}
    refused = as_admin.post(f"{url}/contacts", data={**wrong, "language": "en"})
    assert refused.status_code == 422
    assert _errors(refused.text) == {"email": "请填写有效的电子邮箱，如 name@example.edu.cn。"}
    assert 'value="not-an-email"' in refused.text and 'value="赵新名"' in refused.text  # kept
    unchanged = _person(state, "inv.zhao")
    assert (unchanged.name, unchanged.email) == ("赵调查", "zhao@univ.example")


def test_add_grant_revoke_and_deactivate(
    as_admin: TestClient, state: AppState, tokens: dict[str, str]
) -> None:
    token = form_token(as_admin, "/console/admin/people")
    new = {"handle": "inv.sun", "name": "孙调查", "email": "sun@univ.example", "unit": "cs-su"}
    added = as_admin.post(
        "/console/admin/people",
        data={**new, "role": "investigator", "language": "zh-CN", "form_token": token},
    )
    assert added.status_code == 200 and "已新增" in added.text and "孙调查" in added.text
    taken = as_admin.post("/console/admin/people", data={**new, "form_token": token})
    assert _errors(taken.text) == {"handle": "已有人使用这个用户名。"}
    url = "/console/admin/people/inv.sun"
    granted = as_admin.post(
        f"{url}/roles", data={"role": "verifier", "unit": "league", "form_token": token}
    )
    assert "角色已授予" in granted.text and "核实人员 @ <code>league</code>" in granted.text
    again = as_admin.post(
        f"{url}/roles", data={"role": "verifier", "unit": "league", "form_token": token}
    )
    assert again.status_code == 422 and _errors(again.text) == {
        "role": "此人已在该单位担任这个角色。"
    }
    nowhere = as_admin.post(
        f"{url}/roles", data={"role": "verifier", "unit": "mars", "form_token": token}
    )
    assert _errors(nowhere.text) == {"unit": "没有这个单位。"}
    revoked = as_admin.post(
        f"{url}/roles/revoke", data={"role": "investigator", "unit": "cs-su", "form_token": token}
    )
    assert "角色已撤销" in revoked.text
    sun = _person(state, "inv.sun")
    with UnitOfWork(state.db, write=False) as uow:
        grants = uow.session.exec(select(RoleGrant.role).where(RoleGrant.person_id == sun.id))
        assert list(grants) == ["verifier"]
    me = as_admin.post("/console/admin/people/admin/deactivate", data={"form_token": token})
    assert _errors(me.text) == {"deactivate": "不能停用自己的账号。"}
    wang_url = "/console/admin/people/inv.wang/deactivate"
    gone = as_admin.post(wang_url, data={"form_token": token})
    assert "账号已停用" in gone.text and not _person(state, "inv.wang").active
    assert as_admin.get("/me", headers=bearer(tokens["inv.wang"])).status_code == 401


def _routes(router: APIRouter) -> Iterator[APIRoute]:
    for route in router.routes:
        included = getattr(route, "original_router", None)  # an included router's routes
        if isinstance(included, APIRouter):
            yield from _routes(included)
        else:
            assert isinstance(route, APIRoute)
            yield route


def _admin_requests() -> list[tuple[str, str]]:
    """Every (method, path) of the admin routers (and those they include), a handle in."""
    return [
        (method, route.path.replace("{handle}", "inv.zhao"))
        for route in _routes(admin.router)
        for method in route.methods or ()
    ]


def test_out_of_scope_is_404_on_every_admin_url(app_client: TestClient, state: AppState) -> None:
    requests = _admin_requests()
    assert len(requests) >= 14  # every page and form is in the list
    sign_in(app_client, "inv.wang")
    token = form_token(app_client, "/account")
    for method, path in requests:
        answer = app_client.request(method, path, data={"form_token": token, "name": "x"})
        assert answer.status_code == 404, (method, path)
        assert answer.json()["status"] == 404  # the answer of a page that does not exist
    assert _person(state, "inv.zhao").name == "赵调查" and _person(state, "inv.zhao").active
    sign_in(app_client, "sec.li")  # an operator: the outbox, but no admin page
    for method, path in requests:
        answer = app_client.request(method, path, data={"form_token": token})
        operator = path.startswith("/console/ops/")
        assert (answer.status_code != 404) is operator, (method, path, answer.status_code)
    app_client.cookies.clear()
    answer = app_client.get("/console/admin/people", follow_redirects=False)
    assert answer.headers["location"] == "/signin?next=/console/admin/people"


def test_a_form_without_its_token_is_refused(as_admin: TestClient, state: AppState) -> None:
    form_token(as_admin, "/console/admin/people")
    for path, data in (
        ("/console/admin/people/inv.zhao/contacts", {"name": "改名", "email": "", "phone": ""}),
        ("/console/admin/people/inv.zhao/deactivate", {}),
        ("/console/admin/relationships", {"handle": "inv.zhao", "other": "ver.liu", "kind": "x"}),
    ):
        answer = as_admin.post(path, data={**data, "form_token": "forged"})
        assert answer.status_code == 403 and "页面已过期" in answer.text
    zhao = _person(state, "inv.zhao")
    assert zhao.name == "赵调查" and zhao.active


def test_a_relationship_is_declared_once(as_admin: TestClient) -> None:
    token = form_token(as_admin, "/console/admin/relationships")
    data = {"handle": "inv.zhao", "other": "ver.liu", "kind": "亲属", "form_token": token}
    done = as_admin.post("/console/admin/relationships", data=data)
    assert done.status_code == 200 and "已登记" in done.text and "亲属" in done.text
    twice = as_admin.post(
        "/console/admin/relationships", data={**data, "handle": "ver.liu", "other": "inv.zhao"}
    )
    assert twice.status_code == 422 and _errors(twice.text) == {
        "other": "两人不能是同一人，且尚未登记过关系。"
    }
    nobody = as_admin.post("/console/admin/relationships", data={**data, "other": "nobody"})
    assert _errors(nobody.text) == {"other": "没有这个用户名的人员。"}
    empty = as_admin.post("/console/admin/relationships", data={**data, "kind": " "})
    assert _errors(empty.text) == {"kind": "请填写此项。"}


def test_an_admin_revokes_anyones_token(as_admin: TestClient, tokens: dict[str, str]) -> None:
    public_id = tokens["ver.liu"].split("_")[1]
    token = form_token(as_admin, "/console/admin/tokens")
    done = as_admin.post(
        "/console/admin/tokens/revoke", data={"token": public_id, "form_token": token}
    )
    assert done.status_code == 200 and f"令牌 {public_id} 已吊销" in done.text
    assert as_admin.get("/me", headers=bearer(tokens["ver.liu"])).status_code == 401
    unknown = as_admin.post(
        "/console/admin/tokens/revoke", data={"token": "nope", "form_token": token}
    )
    assert unknown.status_code == 404


NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_a_dead_letter_is_sent_again_from_the_page(app_client: TestClient, state: AppState) -> None:
    with (
        time_machine.travel(NOW, tick=False) as clock,
        smtp_server() as (controller, _),
        http_receiver(lambda received: (503, {})) as receiver,
    ):
        hook = Channel("gateway", "webhook", receiver.url + "/qingfeng", "whsec_" + "a" * 32)
        notify = dispatcher(
            state,
            controller.port,
            channels=(hook,),
            routes=(Route(channel="gateway", roles=["secretary"]),),
            max_attempts=1,
        )
        file(state)
        run_stage_work(state)
        notify.tick()
        clock.shift(timedelta(minutes=5))
        with UnitOfWork(state.db, write=False) as uow:
            [dead] = uow.session.exec(select(OutboxRow).where(OutboxRow.state == "dead")).all()
        sign_in(app_client, "sec.li")
        listed = app_client.get("/console/ops/outbox")
        assert listed.status_code == 200 and f'id="message-{dead.id}"' in listed.text
        assert "gateway" in listed.text and "503" in listed.text
        assert "/console/admin/people" not in listed.text  # not an admin: no admin links
        token = form_token(app_client, "/console/ops/outbox")
        retried = app_client.post(
            "/console/ops/outbox/retry", data={"message": str(dead.id), "form_token": token}
        )
        assert retried.status_code == 200 and f"通知 #{dead.id} 已重新排队发送" in retried.text
        assert f'id="message-{dead.id}"' not in retried.text
        with UnitOfWork(state.db, write=False) as uow:
            again = uow.session.get(OutboxRow, dead.id)
            assert again is not None and (again.state, again.attempts) == ("pending", 0)
        twice = app_client.post(
            "/console/ops/outbox/retry", data={"message": str(dead.id), "form_token": token}
        )
        assert twice.status_code == 409 and "未能重新发送" in twice.text


def test_grants_and_deactivation_are_admins_only_and_audited(
    state: AppState, people: dict[str, Person]
) -> None:
    boss, wang = people["admin"], people["inv.wang"]
    with pytest.raises(Forbidden):
        grant_role(
            uow=UnitOfWork(state.db), by=wang, handle="inv.wang", role=Role.ADMIN, unit="league"
        )
    with pytest.raises(InvalidInput) as not_staff:
        grant_role(
            uow=UnitOfWork(state.db), by=boss, handle="inv.wang", role=Role.SUBJECT, unit="su"
        )
    assert not_staff.value.field == "role"
    with pytest.raises(InvalidInput) as own:
        revoke_role(
            uow=UnitOfWork(state.db), by=boss, handle="admin", role=Role.ADMIN, unit="league"
        )
    assert own.value.field == "role"
    grant_role(uow=UnitOfWork(state.db), by=boss, handle="inv.wang", role=Role.VERIFIER, unit="su")
    revoke_role(uow=UnitOfWork(state.db), by=None, handle="inv.wang", role=Role.VERIFIER, unit="su")
    with pytest.raises(NotFound):
        revoke_role(
            uow=UnitOfWork(state.db), by=boss, handle="inv.wang", role=Role.VERIFIER, unit="su"
        )
    with pytest.raises(Forbidden):
        deactivate_person(uow=UnitOfWork(state.db), by=wang, handle="inv.zhao")
    deactivate_person(uow=UnitOfWork(state.db), by=boss, handle="inv.zhao")
    deactivate_person(uow=UnitOfWork(state.db), by=boss, handle="inv.zhao")  # once is enough
    with UnitOfWork(state.db, write=False) as uow:
        events = uow.session.exec(
            select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.data)
            .where(
                col(AuditEvent.action).in_(["role.granted", "role.revoked", "person.deactivated"])
            )
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(a, actor) for a, actor, _ in events] == [
        ("role.granted", boss.id),
        ("role.revoked", None),
        ("person.deactivated", boss.id),
    ]
    assert json.loads(events[0][2]) == {"handle": "inv.wang", "role": "verifier@su"}
    assert not _person(state, "inv.zhao").active

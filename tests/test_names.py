"""One name, one thing: each staff action's name (its ``Action`` value) is also its command
class (in CamelCase), its effect function, its audit event ('case.<name>'), its route's
name and operation id, and its URL segment under /cases/{reference}/ (with '-' for '_')."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.http.app import create_app
from api.http.deps import AppState
from api.http.routes import cases as case_routes
from cases.effects import EFFECTS
from cases.procedure.commands import COMMANDS, Command
from cases.procedure.policy import Policy
from cases.procedure.vocabulary import Action
from cases.store.db import Database
from config.settings import Settings


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _subclasses(cls: type[Command]) -> list[type[Command]]:
    return [s for d in cls.__subclasses__() for s in (d, *_subclasses(d))]


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Iterator[dict[str, Any]]:
    """The app's OpenAPI document (built once: no request reaches its database)."""
    data_dir = tmp_path_factory.mktemp("names")
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'unused.db'}")
    db = Database(settings.effective_database_url)
    yield create_app(AppState(settings=settings, policy=policy, db=db, secret=b"s")).openapi()
    db.dispose()


@pytest.mark.parametrize("action", list(Action))
def test_command_class_is_the_action_in_camel_case(action: Action) -> None:
    found = [cls for cls in _subclasses(Command) if cls.action is action]
    assert [cls.__name__ for cls in found] == [camel(action.value)]
    assert COMMANDS[action] is found[0]


@pytest.mark.parametrize("action", list(Action))
def test_effect_function_is_the_action(action: Action) -> None:
    assert EFFECTS[action].__name__ == action.value


@pytest.mark.parametrize("action", list(Action))
def test_route_is_the_action(action: Action, openapi: dict[str, Any]) -> None:
    path = f"/cases/{{reference}}/{action.value.replace('_', '-')}"
    operation = openapi["paths"][path]["post"]
    assert operation["operationId"] == action.value
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{camel(action.value)}"}
    routes = [r for r in case_routes.router.routes if isinstance(r, APIRoute) and r.path == path]
    assert [(r.name, r.methods) for r in routes] == [(action.value, {"POST"})]
    assert [p.field_info.annotation for p in routes[0].dependant.body_params] == [COMMANDS[action]]


def test_every_action_route_is_an_action(openapi: dict[str, Any]) -> None:
    """No POST under /cases/{reference}/ beyond the actions' own (an old name left behind)."""
    prefix = "/cases/{reference}/"
    posted = {
        p.removeprefix(prefix)
        for p, operations in openapi["paths"].items()
        if p.startswith(prefix) and "post" in operations
    }
    assert posted == {a.value.replace("_", "-") for a in Action} | NOT_ACTIONS


# Resources under a case that are posted to but are not steps of the procedure.
# The correspondence with the reporter (cases.messages); a new hand-over notice for the
# subject (cases.subject_links).
NOT_ACTIONS = {"messages", "subject-notice"}

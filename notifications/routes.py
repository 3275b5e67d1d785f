"""Channels and routes: the operator's file saying who is reached through which channel."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from cases.files import load_validated
from cases.procedure.strict import StrictModel

Kind = Literal["email", "wecom", "dingtalk", "feishu", "webhook"]
NEEDS_SECRET = {"dingtalk", "feishu", "webhook"}
RoleName = Literal[
    "investigator", "verifier", "advisor", "secretary", "admin", "reporter", "subject"
]


class NotificationsError(Exception):
    """The notifications file cannot be used; the message names file, field and reason."""


class ChannelConfig(StrictModel):
    kind: Kind
    url_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")
    secret_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _secrets_named(self) -> ChannelConfig:
        if self.kind != "email" and not self.url_env:
            raise ValueError(f"a {self.kind} channel needs url_env")
        if self.kind == "webhook" and not self.secret_env:
            raise ValueError("a webhook channel needs secret_env (its signing secret)")
        return self


class Route(StrictModel):
    channel: str
    units: list[str] = Field(default_factory=list)
    roles: list[RoleName] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    final: bool = False


class NotificationsFile(StrictModel):
    channels: dict[str, ChannelConfig] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)

    @model_validator(mode="after")
    def _channels_exist(self) -> NotificationsFile:
        for i, route in enumerate(self.routes):
            if route.channel not in self.channels:
                known = ", ".join(sorted(self.channels))
                raise ValueError(f"routes.{i}.channel: unknown channel {route.channel!r} ({known})")
        return self


@dataclass(frozen=True)
class Channel:
    """A configured channel with its secrets read from the environment."""

    name: str
    kind: str
    url: str | None = None
    secret: str | None = None

    @property
    def personal(self) -> bool:
        """Reaches the recipient alone (a group robot posts to everyone in the group)."""
        return self.kind == "email"


@dataclass(frozen=True)
class RoutingFacts:
    """What routing needs to know about one recipient (``cases.recipients.Recipient``)."""

    handle: str | None
    roles: frozenset[str]
    unit_path_codes: tuple[str, ...]  # the case's unit and every unit above it


@dataclass(frozen=True)
class Routes:
    channels: dict[str, Channel]
    routes: tuple[Route, ...]

    def channels_for(self, recipient: RoutingFacts) -> list[Channel]:
        """Every channel whose route matches, in file order, each once."""
        chosen: dict[str, Channel] = {}
        for route in self.routes:
            if _matches(route, recipient):
                chosen.setdefault(route.channel, self.channels[route.channel])
                if route.final:
                    break
        return list(chosen.values())


def _matches(route: Route, recipient: RoutingFacts) -> bool:
    return (
        (not route.units or bool(set(route.units) & set(recipient.unit_path_codes)))
        and (not route.roles or bool(set(route.roles) & recipient.roles))
        and (not route.people or recipient.handle in route.people)
    )


def load_routes(path: Path, environ: Mapping[str, str] = os.environ) -> Routes:
    """Read the notifications file and the channels' secrets, or raise NotificationsError."""
    config = load_validated(path, NotificationsFile, NotificationsError, "notifications file")
    channels = {}
    for name, channel in config.channels.items():
        values: dict[str, str | None] = {}
        for field in ("url_env", "secret_env"):
            variable = getattr(channel, field)
            if variable and not environ.get(variable):
                raise NotificationsError(
                    f"{path}: field channels.{name}.{field}: "
                    f"environment variable {variable} is not set"
                )
            values[field] = environ.get(variable) if variable else None
        channels[name] = Channel(name, channel.kind, values["url_env"], values["secret_env"])
    return Routes(channels, tuple(config.routes))

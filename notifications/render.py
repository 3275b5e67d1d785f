"""Rendering a notice: one Jinja2 template per notice and language, with a subject block
and a body block; plain text, since every channel shows plain text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from notifications.catalogue import COMMON, VARIABLES, language_of

TEMPLATES = Path(__file__).with_name("templates")


class TemplateError(Exception):
    """A notice cannot be rendered: unknown notice, or variables missing or unexpected."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,  # a name the context lacks is an error, never a blank
        autoescape=False,  # plain text for mail and chat robots
        keep_trailing_newline=False,
        trim_blocks=True,
    )


def render(notice: str, language: str, context: dict[str, Any]) -> Rendered:
    """The subject and body of ``notice`` in ``language`` (zh-CN when not available)."""
    if notice not in VARIABLES:
        raise TemplateError(f"unknown notice {notice!r}")
    expected = COMMON | VARIABLES[notice]
    missing, extra = expected - context.keys(), context.keys() - expected
    if missing or extra:
        raise TemplateError(
            f"notice {notice!r}: missing variables {sorted(missing)}, unexpected {sorted(extra)}"
        )
    template = _environment().get_template(f"{language_of(language)}/{notice}.j2")
    blocks = template.new_context(dict(context))
    subject = "".join(template.blocks["subject"](blocks)).strip()
    body = "".join(template.blocks["body"](blocks)).strip() + "\n"
    return Rendered(subject, body)

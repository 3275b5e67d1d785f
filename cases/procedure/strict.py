"""The base of every part of a human-edited file (policy, calendar, notification routes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A part of a human-edited file: an unknown field is an error, not ignored; read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

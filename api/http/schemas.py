"""Response bodies that are not domain read models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cases.views import CaseSummary

MAX_ID = 2**63 - 1  # ids are 64-bit integers: a larger one in a path or query is a 422


class ReportFiled(BaseModel):
    reference: str
    stage: str
    version: int
    filed_at: datetime
    receipt_code: str = Field(description="Shown once: keep it to follow the case.")


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class TokenCreated(BaseModel):
    id: str
    token: str | None = Field(
        description="Shown once; only its hash is stored (null on an idempotent replay)."
    )


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}

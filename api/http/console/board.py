"""The secretary's board: overdue and escalated cases by unit, extension requests,
co-signatures waiting, appeals to assign and conflict-of-interest overrides."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

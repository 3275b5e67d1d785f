"""The advisor's sign-off pages: the proposals waiting for them, and one proposal with
its findings and verification side by side, signed or refused through apply_action."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)

"""Domain errors. The API maps each kind to one HTTP status and a problem+json body."""

from __future__ import annotations

from collections.abc import Iterable


class DomainError(Exception):
    """Base class; ``field`` names the offending input when there is one."""

    kind = "domain-error"
    title = "The request cannot be carried out"

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class NotFound(DomainError):
    kind, title = "not-found", "Not found"


class InvalidInput(DomainError):
    kind, title = "invalid-input", "Invalid input"


class Unauthenticated(DomainError):
    kind, title = "unauthenticated", "Authentication required"


class Forbidden(DomainError):
    kind, title = "forbidden", "Not allowed"


class SeparationOfDuties(Forbidden):
    kind, title = "separation-of-duties", "Separation of duties"

    def __init__(self, detail: str, *, rule: str) -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


class ConflictOfInterest(DomainError):
    kind, title = "conflict-of-interest", "Conflict of interest"


class IllegalAction(DomainError):
    kind, title = "illegal-action", "Action not allowed in this stage"

    def __init__(self, *, stage: str, action: str, allowed: Iterable[str]) -> None:
        allowed_now = sorted(allowed)
        super().__init__(
            f"'{action}' is not allowed while the case is in stage '{stage}'; "
            f"allowed now: {', '.join(allowed_now) or 'none'}",
            stage=stage,
            allowed_actions=allowed_now,
        )


class GuardFailed(DomainError):
    kind, title = "guard-failed", "A rule of the procedure is not met"

    def __init__(self, detail: str, *, guard: str, field: str | None = None) -> None:
        super().__init__(detail, field=field, guard=guard)


class VersionConflict(DomainError):
    kind, title = "version-conflict", "The case has changed"


class PreconditionRequired(DomainError):
    kind, title = "precondition-required", "If-Match header required"


class IdempotencyMismatch(DomainError):
    kind, title = "idempotency-key-reused", "Idempotency key reused with a different request"

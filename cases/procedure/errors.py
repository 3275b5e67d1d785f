"""Domain errors. The API maps each kind to one HTTP status and a problem+json body."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``field`` names the offending input when there is one."""

    kind = "domain-error"
    title = "The request cannot be carried out"

    def __init__(self, detail: str, *, field: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class Refusal(DomainError):
    """The procedure refuses the action: recorded on the case's audit trail (``action.refused``)
    with ``rule``, the rule that refused it, and ``reason``, the true reason, which may say
    more than ``detail`` (the answer) may tell the caller."""

    rule = "refused"

    @property
    def reason(self) -> str:
        return self.detail


class NotFound(DomainError):
    kind, title = "not-found", "Not found"


class InvalidInput(DomainError):
    kind, title = "invalid-input", "Invalid input"


class TooLarge(InvalidInput):
    kind, title = "too-large", "Too large"


class UnsupportedMediaType(InvalidInput):
    kind, title = "unsupported-media-type", "This type of file is not accepted"


class Unauthenticated(DomainError):
    kind, title = "unauthenticated", "Authentication required"


class Forbidden(Refusal):
    kind, title = "forbidden", "Not allowed"
    rule = "who"


class SeparationOfDuties(Forbidden):
    kind, title = "separation-of-duties", "Separation of duties"

    def __init__(self, detail: str, *, rule: str) -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


class ConflictOfInterest(Refusal):
    kind, title = "conflict-of-interest", "Conflict of interest"
    rule = "conflict_of_interest"


class IneligibleAssignee(InvalidInput, Refusal):
    """A person who may not be put on the case. Every such refusal reads the same to the
    caller, so that no answer tells who the (anonymous) reporter is; the true reason is
    kept for the audit trail only."""

    kind, title = "ineligible-assignee", "This person cannot be assigned"
    rule = "assignee_eligible"

    def __init__(self, handle: str, capacity: str, *, field: str, reason: str) -> None:
        DomainError.__init__(
            self,
            f"{handle} cannot be assigned as {capacity} on this case: an assignee holds a "
            f"matching role over the case's unit and takes no other part in the case",
            field=field,
        )
        self._true_reason = reason

    @property
    def reason(self) -> str:
        return self._true_reason


class IllegalAction(Refusal):
    kind, title = "illegal-action", "Action not allowed in this stage"
    rule = "illegal_action"

    def __init__(self, *, stage: str, action: str) -> None:
        super().__init__(
            f"'{action}' is not allowed while the case is in stage '{stage}'", stage=stage
        )


class NotNow(Refusal):
    """Refused for now (a closed case takes no more messages; a survey is answered once)."""

    kind, title = "not-now", "Not possible now"
    rule = "not_now"


class GuardFailed(Refusal):
    kind, title = "guard-failed", "A rule of the procedure is not met"

    def __init__(self, detail: str, *, guard: str, field: str | None = None) -> None:
        super().__init__(detail, field=field, guard=guard)
        self.rule = guard


class VersionConflict(DomainError):
    kind, title = "version-conflict", "The case has changed"


class PreconditionRequired(DomainError):
    kind, title = "precondition-required", "If-Match header required"


class IdempotencyMismatch(DomainError):
    kind, title = "idempotency-key-reused", "Idempotency key reused with a different request"


class IdempotencyKeyTaken(DomainError):
    """Another anonymous caller sent this key and body; its answer is not for you."""

    kind, title = "idempotency-key-taken", "Idempotency key used by another caller"

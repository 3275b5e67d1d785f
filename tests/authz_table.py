"""The authorisation matrix (issue 18): every route × every role × (own case, in scope,
out of scope) → the expected answer. tests/test_authz_matrix.py asks each cell.

Read a row as: on cases at ``stage``, who gets what. A staff role's entry is one outcome
(the route names no case) or (own, in scope, out of scope). Defaults: an API route answers
401 to anyone without a bearer token (anonymous, the reporter by code, the subject by
link); a console page sends them to /signin. Out of scope is 404 for reads and actions
alike, and an admin reads no cases (404). The players: investigator inv.wang, verifier
ver.liu, advisor adv.cs-su, secretary sec.li, admin; "own" = they are assigned to the
case, "in scope" = a case of their unit subtree with others assigned, "out of scope" = a
case of a federation outside the league (tests/authz_world.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cases.procedure.vocabulary import Stage


class Who(StrEnum):
    ANONYMOUS = "anonymous"
    REPORTER = "reporter"  # signed in at /status with the receipt code of the own case
    SUBJECT = "subject"  # signed in through the subject link of the own case
    INVESTIGATOR = "investigator"
    VERIFIER = "verifier"
    ADVISOR = "advisor"
    SECRETARY = "secretary"
    ADMIN = "admin"


class Relation(StrEnum):
    OWN = "own"
    IN_SCOPE = "in scope"
    OUT_OF_SCOPE = "out of scope"


STAFF = (Who.INVESTIGATOR, Who.VERIFIER, Who.ADVISOR, Who.SECRETARY, Who.ADMIN)
UNSIGNED = (Who.ANONYMOUS, Who.REPORTER, Who.SUBJECT)

# Outcomes: an HTTP status, or one of these words.
OK = "ok"  # 2xx, or 3xx somewhere else than a sign-in form
PASS = "pass"  # let through: the action's own checks answer (2xx, 3xx, 409, 412, 422)
SIGNIN = "signin"  # 303 to /signin
NO_VISIT = 401  # the reporter's pages without a code session: the code form, 401
NO_LINK = 404  # the subject's pages without a link session: "link expired or unknown"
WRONG_CODE = "wrong code"  # 404, or 429 once the client has guessed too often
ANY = "any"  # public: answers everyone alike, whoever asks (no 401/403, no 5xx)
Outcome = int | str
Cell = Outcome | tuple[Outcome, Outcome, Outcome]


@dataclass(frozen=True)
class Row:
    stage: Stage
    cells: dict[Who, Cell]
    # A known defect (its reason): the route's test xfails, strictly, until it is fixed.
    defect: str = ""

    def outcome(self, who: Who, relation: Relation | None) -> Outcome:
        cell = self.cells[who]
        if isinstance(cell, tuple):
            assert relation is not None
            return cell[list(Relation).index(relation)]
        return cell


Allowed = str | tuple[Outcome, Outcome, Outcome]


def _triple(allowed: Allowed, yes: Outcome, no: Outcome) -> tuple[Outcome, Outcome, Outcome]:
    """``allowed``: "own" (assigned only), "both" (own and in scope), "" (neither), or the
    three outcomes themselves."""
    if isinstance(allowed, tuple):
        return allowed
    return (yes if allowed else no, yes if allowed == "both" else no, 404)


def row(stage: Stage, cells: dict[str, Cell], *, console: bool = False, defect: str = "") -> Row:
    """Staff cells as given; anyone unsigned gets 401 (API) or is sent to /signin."""
    unsigned: Outcome = SIGNIN if console else 401
    full: dict[Who, Cell] = dict.fromkeys(UNSIGNED, unsigned)
    full.update({Who(k): v for k, v in cells.items()})
    missing = [w for w in Who if w not in full]
    assert not missing, f"row without {missing}"
    return Row(stage, full, defect=defect)


def reads(stage: Stage = Stage.INVESTIGATION, *, console: bool = False, **over: Cell) -> Row:
    """A case read: staff with the case in scope (own or not), never an admin."""
    cells: dict[str, Cell] = {
        "investigator": (OK, OK, 404),
        "verifier": (OK, OK, 404),
        "advisor": (OK, OK, 404),
        "secretary": (OK, OK, 404),
        "admin": (404, 404, 404),
    }
    return row(stage, {**cells, **over}, console=console)


def acts(
    stage: Stage,
    *,
    console: bool = False,
    investigator: Allowed = "",
    verifier: Allowed = "",
    advisor: Allowed = "",
    secretary: Allowed = "",
    defect: str = "",
) -> Row:
    """A case action: PASS to the one the rule names, 403 to a staff member who sees the
    case but is not; 404 out of scope (and to an admin, who reads no cases)."""
    cells: dict[str, Cell] = {
        "investigator": _triple(investigator, PASS, 403),
        "verifier": _triple(verifier, PASS, 403),
        "advisor": _triple(advisor, PASS, 403),
        "secretary": _triple(secretary, PASS, 403),
        "admin": (404, 404, 404),
    }
    return row(stage, cells, console=console, defect=defect)


def staff(*, console: bool = False, outcome: Outcome = OK) -> Row:
    """A route that names no case, the same for every signed-in staff member."""
    return row(Stage.INVESTIGATION, {w.value: outcome for w in STAFF}, console=console)


def only(*roles: Who, console: bool = False, yes: Outcome = OK) -> Row:
    """A route that names no case, for ``roles`` only. The others: 403 from the API; the
    console answers 404 (it offers a role no page it may not use, like a case out of
    scope)."""
    no: Outcome = 404 if console else 403
    cells: dict[str, Cell] = {w.value: (yes if w in roles else no) for w in STAFF}
    return row(Stage.INVESTIGATION, cells, console=console)


def public(outcome: Outcome = ANY, stage: Stage = Stage.INVESTIGATION) -> Row:
    return Row(stage, dict.fromkeys(Who, outcome))


def by_code(outcome: Outcome = OK, stage: Stage = Stage.INVESTIGATION) -> Row:
    """The reporter's side: what the receipt code (in the body or the /status session) of
    the own case opens; a bearer token or console session opens nothing here."""
    cells: dict[Who, Cell] = dict.fromkeys(Who, WRONG_CODE)
    cells[Who.REPORTER] = outcome
    return Row(stage, cells)


def reporter_page(outcome: Outcome = OK, stage: Stage = Stage.INVESTIGATION) -> Row:
    cells: dict[Who, Cell] = dict.fromkeys(Who, NO_VISIT)
    cells[Who.REPORTER] = outcome
    return Row(stage, cells)


def subject_page(stage: Stage, outcome: Outcome = OK) -> Row:
    cells: dict[Who, Cell] = dict.fromkeys(Who, NO_LINK)
    cells[Who.SUBJECT] = outcome
    return Row(stage, cells)


S = Stage
ADMIN_ONLY = only(Who.ADMIN)
ADMIN_PAGE = only(Who.ADMIN, console=True)
ADMIN_FORM = only(Who.ADMIN, console=True, yes=PASS)  # the form's own checks answer
OPERATOR = (Who.SECRETARY, Who.ADMIN)  # the outbox, figures, conduct records
CASE = "/cases/{reference}"
CONSOLE_CASE = "/console/cases/{reference}"

TABLE: dict[tuple[str, str], Row] = {
    # Public: anyone, signed in or not, the same.
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/redoc"): public(),
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("GET", "/"): public(),
    ("GET", "/report"): public(),
    ("POST", "/report"): public(),
    ("POST", "/reports"): public(),
    ("GET", "/procedure.json"): public(),
    ("GET", "/procedure"): public(),
    ("GET", "/procedure.css"): public(),
    ("GET", "/status"): public(),
    ("GET", "/survey"): public(),
    ("GET", "/s"): public(),
    ("POST", "/s"): public(),  # a hand-over code: a wrong one opens nothing for anyone
    ("GET", "/s/{token}"): public(),  # an unknown link: the same page for everyone
    ("GET", "/signin"): public(),
    ("POST", "/signin"): public(),  # a wrong password: refused alike
    ("GET", "/signin/oidc"): public(),
    ("GET", "/signin/oidc/callback"): public(),
    ("GET", "/signin/cas"): public(),
    # The reporter, by receipt code.
    ("POST", "/status"): by_code(OK),
    ("POST", "/reports/status"): by_code(OK),
    ("POST", "/reports/messages"): by_code(OK),
    ("POST", "/reports/evidence"): by_code(OK),
    ("POST", "/reports/survey"): by_code(OK, stage=S.CLOSED),
    ("GET", "/status/case"): reporter_page(),
    ("POST", "/status/case/message"): reporter_page(),
    ("POST", "/status/case/survey"): reporter_page(stage=S.CLOSED),
    ("POST", "/status/case/evidence"): reporter_page(),
    # The subject, by link.
    ("GET", "/subject"): subject_page(S.INVESTIGATION),
    ("GET", "/subject/decision-notice.pdf"): subject_page(S.APPEAL_WINDOW),
    ("POST", "/subject/statement"): subject_page(S.INVESTIGATION, PASS),
    ("POST", "/subject/appeal"): subject_page(S.APPEAL_WINDOW, PASS),
    # Staff API: cases.
    ("GET", "/cases"): staff(),
    ("GET", CASE): reads(),
    ("POST", f"{CASE}/accept"): acts(S.INTAKE, investigator="both", secretary="both"),
    ("POST", f"{CASE}/decline"): acts(S.INTAKE, investigator="both", secretary="both"),
    ("POST", f"{CASE}/assign"): acts(S.INVESTIGATION, secretary="both"),
    ("POST", f"{CASE}/record-evidence"): acts(S.INVESTIGATION, investigator="own"),
    ("POST", f"{CASE}/record-interview"): acts(S.INVESTIGATION, investigator="own"),
    ("POST", f"{CASE}/record-statement"): acts(S.INVESTIGATION, investigator="own"),
    ("POST", f"{CASE}/waive-statement"): acts(S.INVESTIGATION, investigator="own"),
    ("POST", f"{CASE}/submit-findings"): acts(S.INVESTIGATION, investigator="own"),
    ("POST", f"{CASE}/confirm"): acts(S.VERIFICATION, verifier="own"),
    ("POST", f"{CASE}/return-findings"): acts(S.VERIFICATION, verifier="own"),
    ("POST", f"{CASE}/propose"): acts(S.DISPOSITION, investigator="own", secretary="both"),
    ("POST", f"{CASE}/sign-off"): acts(S.DISPOSITION, advisor="own"),
    ("POST", f"{CASE}/refuse"): acts(S.DISPOSITION, advisor="own"),
    ("POST", f"{CASE}/co-sign"): acts(S.DISPOSITION, secretary="both"),
    ("POST", f"{CASE}/appeal"): acts(S.APPEAL_WINDOW),  # the subject's, on their page
    # The assigned appeal reviewer decides (rev.qian; no player: the secretary co-signed).
    ("POST", f"{CASE}/decide-appeal"): acts(S.APPEAL_REVIEW),
    ("POST", f"{CASE}/close"): acts(S.APPEAL_WINDOW, investigator="own", secretary="both"),
    # An assignee asks (the verifier and advisor are assigned from the investigation on).
    ("POST", f"{CASE}/request-extension"): acts(
        S.INVESTIGATION, investigator="own", verifier="own", advisor="own"
    ),
    ("POST", f"{CASE}/grant-extension"): acts(S.INVESTIGATION, secretary="both"),
    ("POST", f"{CASE}/refuse-extension"): acts(S.INVESTIGATION, secretary="both"),
    # Correspondence with the reporter: those who take up the unit's reports (the triage
    # roles in scope: investigators, the secretary) and the assigned investigators.
    ("GET", f"{CASE}/messages"): acts(S.INVESTIGATION, investigator="both", secretary="both"),
    ("POST", f"{CASE}/messages"): acts(S.INVESTIGATION, investigator="both", secretary="both"),
    ("GET", f"{CASE}/evidence/{{evidence_id}}/file"): reads(),
    # The subject's hand-over notice (a fresh link): the case's investigators and the
    # secretary; others who may read the case are refused.
    ("POST", f"{CASE}/subject-notice"): reads(
        investigator=(OK, 403, 404), verifier=(403, 403, 404), advisor=(403, 403, 404)
    ),
    ("POST", "/subject-notices/{notice}/handed-over"): acts(
        S.INVESTIGATION, investigator="own", secretary="both"
    ),
    ("GET", f"{CASE}/due-date"): reads(),
    ("GET", f"{CASE}/decision-notice"): reads(S.CLOSED),
    # policy papers.casefile_roles: the secretary.
    ("GET", f"{CASE}/casefile"): acts(S.CLOSED, secretary="both"),
    # Staff API: people, tokens, the outbox, figures.
    ("GET", "/me"): staff(),
    ("POST", "/admin/people/{handle}/tokens"): ADMIN_ONLY,
    ("DELETE", "/admin/tokens/{token_id}"): ADMIN_ONLY,
    # {handle}: the subject of the case: the admin, and staff for their cases' people.
    ("PATCH", "/people/{handle}"): reads(advisor=(403, 403, 403), admin=(OK, OK, OK)),
    ("GET", "/outbox"): only(*OPERATOR),
    ("POST", "/outbox/{message_id}/retry"): only(*OPERATOR, yes=PASS),  # not dead: 409
    ("GET", "/performance"): only(*OPERATOR),
    # policy conduct_record.roles: the secretary and the admin.
    ("POST", "/conduct-records"): only(*OPERATOR),
    # Prometheus, from another machine than the server's: the admin only.
    ("GET", "/metrics"): only(Who.ADMIN),
    # Console: the staff member's own account.
    ("POST", "/signout"): staff(console=True, outcome=SIGNIN),  # back to the sign-in form
    ("GET", "/account"): staff(console=True),
    ("POST", "/account/tokens"): staff(console=True),
    ("POST", "/account/tokens/revoke"): staff(console=True),
    # Console: cases.
    ("GET", "/console"): staff(console=True),
    ("GET", CONSOLE_CASE): reads(console=True),
    ("POST", f"{CONSOLE_CASE}/messages"): acts(
        S.INVESTIGATION, console=True, investigator="both", secretary="both"
    ),
    # {path}: record-interview, the assigned investigator's.
    ("POST", f"{CONSOLE_CASE}/{{path}}"): acts(S.INVESTIGATION, console=True, investigator="own"),
    ("GET", f"{CONSOLE_CASE}/evidence/{{evidence_id}}/file"): reads(console=True),
    ("GET", f"{CONSOLE_CASE}/due-date"): reads(console=True),
    ("GET", f"{CONSOLE_CASE}/decision-notice"): reads(S.CLOSED, console=True),
    # Sign-off and co-signature (the advisor's, the secretary's); {action}: sign_off.
    # A case that is not for the viewer to sign is not found here (404), as out of scope.
    ("GET", "/console/signoff"): staff(console=True),
    ("GET", "/console/signoff/{reference}"): reads(
        S.DISPOSITION,
        console=True,
        investigator=(404, 404, 404),
        verifier=(404, 404, 404),
        advisor=(OK, 404, 404),
    ),
    ("POST", "/console/signoff/{reference}/{action}"): acts(
        S.DISPOSITION,
        console=True,
        investigator=(404, 404, 404),
        verifier=(404, 404, 404),
        advisor=(PASS, 404, 404),
    ),
    # The secretary's board (extensions, appeal reviewers); {action}: grant_extension.
    ("GET", "/console/board"): only(Who.SECRETARY, console=True),
    ("POST", "/console/board/{reference}/{action}"): acts(
        S.INVESTIGATION,
        console=True,
        secretary="both",
        investigator=(404, 404, 404),
        verifier=(404, 404, 404),
        advisor=(404, 404, 404),
    ),
    ("GET", "/console/figures"): only(*OPERATOR, console=True),
    ("GET", "/console/figures/performance.json"): only(*OPERATOR, console=True),
    ("GET", "/console/figures/charts.json"): only(*OPERATOR, console=True),
    ("GET", "/console/conduct-record"): only(*OPERATOR, console=True),
    ("POST", "/console/conduct-record"): only(*OPERATOR, console=True),
    # Console: administration, the admin's.
    ("GET", "/console/admin"): ADMIN_PAGE,
    ("GET", "/console/admin/units"): ADMIN_PAGE,
    ("POST", "/console/admin/units/import"): ADMIN_FORM,
    ("GET", "/console/admin/people"): ADMIN_PAGE,
    ("POST", "/console/admin/people"): ADMIN_FORM,
    ("GET", "/console/admin/people/{handle}"): ADMIN_PAGE,
    ("POST", "/console/admin/people/{handle}/contacts"): ADMIN_FORM,
    ("POST", "/console/admin/people/{handle}/roles"): ADMIN_FORM,
    ("POST", "/console/admin/people/{handle}/roles/revoke"): ADMIN_FORM,
    ("POST", "/console/admin/people/{handle}/deactivate"): ADMIN_FORM,
    ("GET", "/console/admin/relationships"): ADMIN_PAGE,
    ("POST", "/console/admin/relationships"): ADMIN_FORM,
    ("GET", "/console/admin/tokens"): ADMIN_PAGE,
    ("POST", "/console/admin/tokens/revoke"): ADMIN_FORM,
    ("GET", "/console/ops/outbox"): only(*OPERATOR, console=True),
    ("POST", "/console/ops/outbox/retry"): only(*OPERATOR, console=True, yes=PASS),
}

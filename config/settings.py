"""Process settings read from the environment (prefix ``QINGFENG_``) or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yaml")
DEFAULT_CALENDAR_DIR = Path(__file__).with_name("calendar")
DEFAULT_NOTIFICATIONS_FILE = Path(__file__).with_name("notifications.yaml")


class Settings(BaseSettings):
    """Everything an operator may set; secrets come only from here."""

    model_config = SettingsConfigDict(env_prefix="QINGFENG_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite file and logs live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir. "
        "Use postgresql+psycopg://user:pass@host/db for PostgreSQL.",
    )
    policy_file: Path = Field(default=DEFAULT_POLICY_FILE, description="Case-handling policy.")
    calendar_dir: Path = Field(
        default=DEFAULT_CALENDAR_DIR,
        description="Per-year working-day override files (<year>.yaml).",
    )
    committee_name: str = Field(
        default="共青团某某大学委员会", description="Shown on every page (the committee's name)."
    )
    committee_contact: str = Field(
        default="校团委办公室 · 电话 010-00000000 · 邮箱 tuanwei@example.edu.cn",
        description="How people reach the committee, shown on every page.",
    )
    cjk_fonts: Path = Field(
        default=Path("/usr/share/fonts/opentype/noto"),
        description="Where the Noto CJK fonts (Debian fonts-noto-cjk) are: PDFs embed them.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False
    audit_checkpoint_seconds: float = Field(
        default=10.0, gt=0, description="How often the global audit checkpoint is appended."
    )
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Server secret (derives replayable receipt codes); "
        "generated into data_dir/secret_key when unset.",
    )
    db_pool_size: int = 20
    orchestration: bool = Field(
        default=True, description="Run each transition as a Prefect flow run (case-stage)."
    )
    prefect_port: int = Field(
        default=4200, description="Port of the embedded Prefect server (UI and API)."
    )
    prefect_database_url: str | None = Field(
        default=None,
        description="Database of the embedded Prefect server; default SQLite in "
        "data_dir/prefect. Ignored when PREFECT_API_URL points to an existing server.",
    )
    prefect_namespace: str = Field(
        default="",
        max_length=40,
        description="Prefix of stage-run idempotency keys, for installations that share "
        "one Prefect server (e.g. 'staging:').",
    )
    stage_runner_threads: int = Field(
        default=2, ge=1, le=32, description="Stage runs executed at once in this process."
    )

    notifications: bool = Field(
        default=True, description="Run the notification dispatcher (outbox to channels)."
    )
    notifications_file: Path = Field(
        default=DEFAULT_NOTIFICATIONS_FILE,
        description="Channels and routes (who is reached through which channel).",
    )
    smtp_host: str = Field(
        default="",
        description="Mail server of the email channel; unset, mails are written as .eml "
        "files to data_dir/mail instead of being sent.",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="'starttls' (port 587) or 'tls' (implicit TLS, port 465)."
    )
    smtp_username: str | None = None
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout: float = Field(default=10.0, gt=0)
    smtp_ca_file: Path | None = Field(
        default=None, description="CA certificate of a mail server with a private CA."
    )
    mail_from: str = Field(default="qingfeng@localhost", description="Sender of every e-mail.")
    notify_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Attempts per message before it is dead-lettered."
    )
    notify_backoff_seconds: float = Field(
        default=30.0, gt=0, description="Wait before the first retry; doubles each attempt."
    )
    notify_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    portal_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public address quoted in messages (reporters follow their case there).",
    )

    # Staff sign-in to the console (docs/operations.md → Sign-in).
    session_idle_minutes: float = Field(
        default=60.0, gt=0, description="A console session ends after this long unused."
    )
    session_max_hours: float = Field(
        default=12.0, gt=0, description="A console session ends this long after sign-in."
    )
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer URL (its /.well-known/openid-configuration is "
        "read); unset, OpenID Connect sign-in is off.",
    )
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_scopes: str = Field(default="openid profile", description="Scopes asked for.")
    oidc_handle_claim: str = Field(
        default="preferred_username",
        description="The ID token claim holding the person's handle (e.g. a staff number).",
    )
    oidc_name_zh: str = Field(default="统一身份认证", description="The sign-in button (zh-CN).")
    oidc_name_en: str = Field(default="Campus single sign-on", description="The button (en).")
    cas_server_url: str = Field(
        default="",
        description="CAS server base URL (…/cas/, where /login and /serviceValidate are); "
        "unset, CAS sign-in is off.",
    )
    # An int with bounds, not Literal[2, 3]: a value read from the environment is text,
    # which a literal of ints refuses ("3" is not 3) and the children of `up` read it so.
    cas_version: int = Field(
        default=3, ge=2, le=3,
        description="CAS protocol: 2 (/serviceValidate) or 3 (/p3/serviceValidate).",
    )  # fmt: skip
    cas_handle_attribute: str = Field(
        default="",
        description="CAS attribute holding the person's handle; empty: cas:user itself.",
    )
    cas_name_zh: str = Field(default="统一身份认证（CAS）", description="The button (zh-CN).")
    cas_name_en: str = Field(default="Campus sign-in (CAS)", description="The button (en).")
    sso_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of each call to the OIDC or CAS server."
    )

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite default under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'qingfeng.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings()


def secret_key(settings: Settings) -> bytes:
    """The server secret: QINGFENG_SECRET_KEY, else one generated once into data_dir."""
    if settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / "secret_key"
    if not path.exists():
        import secrets

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip().encode()

"""Settings: one class, embedded defaults that need no environment at all.

Parse options are read from the variables Parse Server's CLI reads
(``PARSE_SERVER_<OPTION>``), so an existing deployment's environment carries
over; Ballast's own options use ``BALLAST_``. Nothing here touches the disk:
``backend.embedded`` fills in the generated master key.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any

from limits import parse as parse_rate
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _parse(name: str, *more: str) -> Any:
    """Env names for a Parse option: PARSE_SERVER_<NAME>, then BALLAST_<NAME>, then extras."""
    return AliasChoices(name, f"PARSE_SERVER_{name.upper()}", f"BALLAST_{name.upper()}", *more)


def _ballast(name: str, *more: str) -> Any:
    return AliasChoices(name, f"BALLAST_{name.upper()}", *more)


LOG_LEVELS = {"error": 40, "warn": 30, "warning": 30, "info": 20, "verbose": 10, "debug": 10, "silly": 10}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_size(value: object) -> int:
    """'20mb' -> bytes, as parse-server's maxUploadSize."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 20mb)")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


# Uploads of types a browser runs (HTML, SVG, XML, XSL, scripts) are refused by default, as Parse Server 9
# refuses html, svg and xml (code 130); "*" or other patterns in BALLAST_FILE_EXTENSIONS allow them again.
# The pattern is matched against the name's extension and, without one, the declared type's subtype.
SAFE_FILE_EXTENSIONS = (r"^(?!(?i:(?:[xs]?html?|xht|svgz?|xml|xsl|xslt|mht|mhtml|m?js|javascript|ecmascript)"
                        r"(?:\+xml)?)$)")
MINUTE_MS = 60_000
# Routes that hash a password or send a mail: limited per client address and per username by default, so a
# storm of guesses is refused before it costs bcrypt (Parse Server has the option, with no default rules).
DEFAULT_RATE_LIMITS: tuple[dict[str, Any], ...] = (
    {"requestPath": "/login", "requestTimeWindow": MINUTE_MS, "requestCount": 60, "zone": "ip"},
    {"requestPath": "/login", "requestTimeWindow": MINUTE_MS, "requestCount": 10, "zone": "username"},
    {"requestPath": "/users", "requestMethods": ["POST"], "requestTimeWindow": MINUTE_MS, "requestCount": 60,
     "zone": "ip"},
    {"requestPath": "/classes/_User", "requestMethods": ["POST"], "requestTimeWindow": MINUTE_MS,
     "requestCount": 60, "zone": "ip"},  # the same sign-up by its other path (and in a batch)
    {"requestPath": "/requestPasswordReset", "requestTimeWindow": MINUTE_MS, "requestCount": 10, "zone": "ip"},
    {"requestPath": "/requestPasswordReset", "requestTimeWindow": MINUTE_MS, "requestCount": 3,
     "zone": "username"},
    {"requestPath": "/verificationEmailRequest", "requestTimeWindow": MINUTE_MS, "requestCount": 10, "zone": "ip"},
    {"requestPath": "/verificationEmailRequest", "requestTimeWindow": MINUTE_MS, "requestCount": 3,
     "zone": "username"},
)


class Settings(BaseSettings):
    """Every option of a Ballast server. ``Settings()`` alone runs embedded."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    # identity of the app and its keys
    application_id: str = Field("ballast", validation_alias=_parse("application_id"))
    master_key: str | None = Field(None, validation_alias=_parse("master_key"), repr=False)
    read_only_master_key: str | None = Field(None, validation_alias=_parse("read_only_master_key"), repr=False)
    javascript_key: str | None = Field(None, validation_alias=_parse("javascript_key"), repr=False)
    rest_api_key: str | None = Field(None, validation_alias=_parse("rest_api_key"), repr=False)
    client_key: str | None = Field(None, validation_alias=_parse("client_key"), repr=False)
    master_key_ips: Annotated[list[str], NoDecode] = Field(
        ["127.0.0.1/32", "::1/128"], validation_alias=_parse("master_key_ips")
    )

    # data
    database_uri: str | None = Field(None, validation_alias=_parse("database_uri", "DATABASE_URL"))
    # PostgreSQL connections one process keeps open per pool (reads and writes have a pool each): enough for the
    # requests it has in flight; ``ballast serve --workers N`` divides the default between its processes
    database_pool_size: int = Field(32, ge=1, le=1000, validation_alias=_ballast("database_pool_size"))
    data_dir: Path = Field(Path("data"), validation_alias=_ballast("data_dir"))
    allow_client_class_creation: bool = Field(True, validation_alias=_parse("allow_client_class_creation"))

    # http
    mount_path: str = Field("/parse", validation_alias=_parse("mount_path"))
    # more paths serving the same API, e.g. "/1" (Parse.com's root, which legacy clients such as ParsePy fix)
    extra_mount_paths: Annotated[list[str], NoDecode] = Field([], validation_alias=_ballast("extra_mount_paths"))
    host: str = Field("127.0.0.1", validation_alias=_ballast("host"))
    port: int = Field(1337, validation_alias=_parse("port"))
    server_url: str | None = Field(None, validation_alias=_parse("server_url"))
    max_upload_size: int = Field(20 * 1024**2, validation_alias=_parse("max_upload_size"))
    # create, get and find of objects served in front of the app's layers (backend/api/lean_routes.py); off: the
    # same requests go through the whole stack, as every other route (the equivalence tests compare the two)
    lean_object_routes: bool = Field(True, validation_alias=_ballast("lean_object_routes"))
    batch_limit: int = Field(50, ge=1, le=1000, validation_alias=_ballast("batch_limit"))
    max_limit: int = Field(10_000, ge=1, validation_alias=_ballast("max_limit"))
    idempotency_ttl: int = Field(300, ge=0, validation_alias=_ballast("idempotency_ttl"))
    # the agent gateway: an agent acting for a user sends a delegation (X-Ballast-Delegation); the user's own
    # session token (X-Parse-Session-Token on a tool call) only if this is on (it also works on /parse)
    agent_session_delegation: bool = Field(False, validation_alias=_ballast("agent_session_delegation"))
    # tool calls from one client address a minute (or "N/second|minute|hour"), before any token is looked at; raise it
    # for an agent platform behind one egress address or a benchmark from loopback
    agent_address_rate: str = Field("1200/minute", validation_alias=_ballast("agent_address_rate"))
    # Parse's idempotencyOptions ({"paths": [...], "ttl": s}): repeats on those paths get 159, unless replay is on
    experimental_idempotency_options: dict[str, Any] | None = Field(
        None, validation_alias=_parse("experimental_idempotency_options", "PARSE_SERVER_IDEMPOTENCY_OPTIONS"))
    idempotency_replay: bool = Field(False, validation_alias=_ballast("idempotency_replay"))
    cors_origins: Annotated[list[str], NoDecode] = Field(["*"], validation_alias=_ballast("cors_origins"))

    # files: local disk under data_dir/files unless an S3 bucket is set
    file_upload_enable_for_public: bool = Field(False, validation_alias=_ballast("file_upload_enable_for_public"))
    file_upload_enable_for_anonymous_user: bool = Field(
        False, validation_alias=_ballast("file_upload_enable_for_anonymous_user"))
    file_upload_enable_for_authenticated_user: bool = Field(
        True, validation_alias=_ballast("file_upload_enable_for_authenticated_user"))
    file_extensions: Annotated[list[str], NoDecode] = Field(  # Parse 9's fileUpload.fileExtensions: see below
        [SAFE_FILE_EXTENSIONS], validation_alias=_ballast("file_extensions"))
    files_cache_control: str = Field("public, max-age=86400", validation_alias=_ballast("files_cache_control"))
    files_base_url: str | None = Field(None, validation_alias=_ballast("files_base_url", "BALLAST_S3_BASE_URL"))
    s3_bucket: str | None = Field(None, validation_alias=_ballast("s3_bucket", "S3_BUCKET"))
    s3_prefix: str = Field("", validation_alias=_ballast("s3_prefix"))
    s3_region: str | None = Field(None, validation_alias=_ballast("s3_region", "AWS_REGION"))
    s3_endpoint: str | None = Field(None, validation_alias=_ballast("s3_endpoint", "S3_ENDPOINT"))
    s3_access_key_id: str | None = Field(None, validation_alias=_ballast("s3_access_key_id"), repr=False)
    s3_secret_access_key: str | None = Field(None, validation_alias=_ballast("s3_secret_access_key"), repr=False)
    s3_server_side_encryption: str | None = Field(None, validation_alias=_ballast("s3_server_side_encryption"))
    s3_presigned_urls: bool = Field(False, validation_alias=_ballast("s3_presigned_urls"))
    s3_presigned_url_expires: int = Field(900, ge=1, le=604_800, validation_alias=_ballast("s3_presigned_url_expires"))

    # cloud code
    cloud_code_dir: Path | None = Field(
        Path("cloud_functions"), validation_alias=_ballast("cloud_code_dir", "PARSE_SERVER_CLOUD"))
    cloud_timeout: float = Field(30.0, gt=0, validation_alias=_ballast("cloud_timeout"))
    cloud_reload: bool = Field(False, validation_alias=_ballast("cloud_reload"))
    # webhooks (/hooks): the key sent as X-Parse-Webhook-Key; private targets only when allowed
    webhook_key: str | None = Field(None, validation_alias=_parse("webhook_key"), repr=False)
    webhook_allow_private: bool = Field(False, validation_alias=_ballast("webhook_allow_private"))
    webhook_timeout: float = Field(10.0, gt=0, validation_alias=_ballast("webhook_timeout"))

    # jobs: every instance runs a scheduler; fires are claimed once across instances
    jobs_enabled: bool = Field(True, validation_alias=_ballast("jobs_enabled"))
    job_retention_days: int = Field(30, ge=1, validation_alias=_ballast("job_retention_days"))
    job_lease_seconds: float = Field(30.0, gt=0, validation_alias=_ballast("job_lease_seconds"))
    job_refresh_seconds: float = Field(5.0, gt=0, validation_alias=_ballast("job_refresh_seconds"))

    # LiveQuery: Redis pub/sub between instances when set; live classes (empty: all)
    redis_url: str | None = Field(None, validation_alias=_ballast("redis_url", "REDIS_URL"), repr=False)
    live_query_classes: Annotated[list[str], NoDecode] = Field([], validation_alias=_ballast("live_query_classes"))
    live_query_max_subscriptions: int = Field(1000, ge=1, validation_alias=_ballast("live_query_max_subscriptions"))
    live_query_max_message: int = Field(256 * 1024, ge=1024, validation_alias=_ballast("live_query_max_message"))
    # seconds a request body may take to arrive in full before the answer is 408 (parse-server's express: 60)
    request_body_timeout: float = Field(60.0, gt=0, validation_alias=_ballast("request_body_timeout"))
    # slow clients (backend/http_deadlines.py): seconds for a request head; a body's average bytes/s after that grace
    request_head_timeout: float = Field(20.0, gt=0, validation_alias=_ballast("request_head_timeout"))
    request_body_min_rate: int = Field(1024, ge=1, validation_alias=_ballast("request_body_min_rate"))
    live_query_queue: int = Field(10_000, ge=1, validation_alias=_ballast("live_query_queue"))
    # a slow subscriber's backlog in bytes, past which it is cut off (155, then close 1008)
    live_query_queue_bytes: int = Field(8 * 1024 * 1024, ge=64 * 1024,
                                        validation_alias=_ballast("live_query_queue_bytes"))
    live_query_session_check: float = Field(30.0, gt=0, validation_alias=_ballast("live_query_session_check"))
    # Parse's LiveQuery checks only its own keyPairs (none by default), not the REST client keys
    live_query_client_keys: bool = Field(False, validation_alias=_ballast("live_query_client_keys"))

    # operations: log level (Parse's names: error, warn, info, verbose, debug, silly; VERBOSE=1 means verbose)
    log_level: str = Field("info", validation_alias=_ballast("log_level", "PARSE_SERVER_LOG_LEVEL"))
    verbose: bool = Field(False, validation_alias=AliasChoices("verbose", "VERBOSE", "PARSE_SERVER_VERBOSE"))
    # /metrics answers callers from these networks, or any caller with ``Authorization: Bearer <token>``
    metrics_ips: Annotated[list[str], NoDecode] = Field(["127.0.0.1/32", "::1/128"],
                                                        validation_alias=_ballast("metrics_ips"))
    metrics_token: str | None = Field(None, validation_alias=_ballast("metrics_token"), repr=False)
    # a side listener for /metrics and the health probes (``ballast serve`` binds it); the public port then
    # answers 404 for /metrics. Its address defaults to BALLAST_HOST's.
    metrics_port: int | None = Field(None, ge=1, le=65535, validation_alias=_ballast("metrics_port"))
    metrics_host: str | None = Field(None, validation_alias=_ballast("metrics_host"))

    # identity: users, sessions, policies, social logins, email
    app_name: str = Field("Ballast", validation_alias=_parse("app_name"))
    session_length: int = Field(31_536_000, ge=1, validation_alias=_parse("session_length"))
    bcrypt_rounds: int = Field(10, ge=4, le=15, validation_alias=_ballast("bcrypt_rounds"))
    # Parse 9's default: a new user's ACL lets only that user read it (no public read)
    enforce_private_users: bool = Field(True, validation_alias=_parse("enforce_private_users"))
    verify_user_emails: bool = Field(False, validation_alias=_parse("verify_user_emails"))
    prevent_login_with_unverified_email: bool = Field(
        False, validation_alias=_parse("prevent_login_with_unverified_email"))
    email_verify_token_validity_duration: int | None = Field(
        None, ge=1, validation_alias=_parse("email_verify_token_validity_duration"))
    revoke_session_on_password_reset: bool = Field(True, validation_alias=_parse("revoke_session_on_password_reset"))
    password_policy_pattern: str | None = Field(None, validation_alias=_ballast("password_policy_pattern"))
    password_policy_message: str | None = Field(None, validation_alias=_ballast("password_policy_message"))
    password_history: int = Field(0, ge=0, le=20, validation_alias=_ballast("password_history"))
    password_reset_token_validity_duration: int | None = Field(
        None, ge=1, validation_alias=_ballast("password_reset_token_validity_duration"))
    account_lockout_threshold: int = Field(0, ge=0, validation_alias=_ballast("account_lockout_threshold"))
    account_lockout_duration: int = Field(5, ge=1, le=99_999, validation_alias=_ballast("account_lockout_duration"))
    # Parse's rateLimit list (requestPath, requestTimeWindow in ms, requestCount, errorResponseMessage,
    # requestMethods, includeMasterKey, zone ip|username|user|session|global); [] switches limits off
    rate_limit: list[dict[str, Any]] = Field(
        default_factory=lambda: [dict(rule) for rule in DEFAULT_RATE_LIMITS], validation_alias=_parse("rate_limit"))
    auth: dict[str, dict[str, Any]] = Field({}, validation_alias=_parse("auth"))
    smtp_host: str | None = Field(None, validation_alias=_ballast("smtp_host"))
    smtp_port: int = Field(25, validation_alias=_ballast("smtp_port"))
    smtp_user: str | None = Field(None, validation_alias=_ballast("smtp_user"))
    smtp_password: str | None = Field(None, validation_alias=_ballast("smtp_password"), repr=False)
    smtp_starttls: bool = Field(False, validation_alias=_ballast("smtp_starttls"))
    mail_from: str = Field("no-reply@localhost", validation_alias=_ballast("mail_from"))

    @field_validator("master_key_ips", "metrics_ips", "cors_origins", "live_query_classes", "file_extensions",
                     "extra_mount_paths", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("master_key_ips", "metrics_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:  # a typo here would silently refuse every master-key call from everywhere
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r} (use e.g. 10.0.0.0/8,::1)") from None
        return value

    @field_validator("agent_address_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:  # refused at start-up, not on the first tool call; 0 would refuse every call
            amount = parse_rate(value).amount
        except ValueError:
            amount = 0
        if amount < 1:
            raise ValueError(f"not a rate of at least one call: {value!r} (use e.g. 1200/minute)")
        return value

    @field_validator("max_upload_size", mode="before")
    @classmethod
    def _size(cls, value: object) -> int:
        return parse_size(value)

    @field_validator("mount_path")
    @classmethod
    def _mount(cls, value: str) -> str:
        return "/" + value.strip("/")

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().lower() not in LOG_LEVELS:
            raise ValueError(f"not a log level: {value!r} (use one of {', '.join(LOG_LEVELS)})")
        return value.strip().lower()

    @field_validator("extra_mount_paths")
    @classmethod
    def _mounts(cls, value: list[str]) -> list[str]:
        return ["/" + path.strip("/") for path in value if path.strip("/")]

    @model_validator(mode="after")
    def _keys_differ(self) -> Settings:
        if self.master_key and self.master_key == self.read_only_master_key:
            raise ValueError("masterKey and readOnlyMasterKey must differ")
        return self

    @property
    def log_level_number(self) -> int:
        """The stdlib logging level: VERBOSE wins over the named level, as in Parse Server."""
        return LOG_LEVELS["verbose" if self.verbose else self.log_level]

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """Where the side listener for /metrics binds, when there is one."""
        return (self.metrics_host or self.host, self.metrics_port) if self.metrics_port else None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ballast.sqlite3"

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: PostgreSQL when configured, else the embedded SQLite file."""
        uri = self.database_uri
        if not uri:
            return f"sqlite+aiosqlite:///{self.sqlite_path}"
        for prefix in ("postgres://", "postgresql://"):
            if uri.startswith(prefix):
                return "postgresql+asyncpg://" + uri[len(prefix):]
        return uri

    @property
    def public_url(self) -> str:
        return self.server_url or f"http://{self.host}:{self.port}{self.mount_path}"

    @property
    def client_keys(self) -> tuple[str, ...]:
        """Client keys that are configured; with none, any client may call."""
        keys = (self.javascript_key, self.rest_api_key, self.client_key)
        return tuple(key for key in keys if key)

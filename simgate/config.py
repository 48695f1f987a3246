"""Settings, read once from ``SIMGATE_*`` environment variables into one typed object.

Nothing else in the package reads the environment: the settings object is built at the entry
point and passed down, so tests build it explicitly and never leak state between each other.
"""

from __future__ import annotations

from ipaddress import ip_network
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from simgate.domain.expiry import DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS
from simgate.domain.optout import (
    DEFAULT_OPTIN_KEYWORDS,
    DEFAULT_OPTOUT_KEYWORDS,
    MAX_KEYWORD_CHARS,
    keyword_form,
)
from simgate.domain.states import MAX_AUTO_RETRIES, RETRY_BASE_DELAY


class Settings(BaseSettings):
    """Everything an operator may tune, with defaults that work on a laptop."""

    model_config = SettingsConfigDict(env_prefix="SIMGATE_", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./simgate.db"
    # PostgreSQL only: where each process's one LISTEN/NOTIFY connection goes, when it must
    # not take the database URL's route: behind a transaction-pooling PgBouncer (which breaks
    # LISTEN), point it at PostgreSQL itself or at a session-pooled port. Unset: database_url.
    bus_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Server processes ``simgate serve`` runs on this host, sharing the port and the database
    # (PostgreSQL only: SQLite has one writer).
    workers: int = Field(default=1, ge=1, le=256)
    # The address recipients and clients see; short links and encrypted-message links use it.
    public_base_url: str = "http://127.0.0.1:8000"
    # Region used to read national numbers such as "0470 12 34 56" (ISO 3166 alpha-2).
    default_region: str = "BE"
    # Zone of the human-readable dates in responses ("date", "hour", "datetimeLocal", ...).
    timezone: str = "UTC"
    log_level: str = "info"
    # "text" (key=value lines) or "json" (one object a line), for the server, migrations and
    # the agent alike.
    log_format: Literal["text", "json"] = "text"
    # A device counts as online while its last heartbeat is younger than this.
    device_online_seconds: int = Field(default=60, ge=5)
    # Seconds between the server's pings to a connected device.
    heartbeat_seconds: int = Field(default=25, ge=1)
    # Devices' frames are noted in memory and their last_seen, battery and signal written for
    # all devices together this often (one statement, not one transaction per device); keep it
    # well below device_online_seconds, which other processes judge last_seen by.
    last_seen_flush_seconds: float = Field(default=5.0, gt=0, le=60)
    # A device on the HTTP long-poll fallback that has not polled for this many seconds is
    # treated as gone, as a dropped WebSocket (its messages keep their leases).
    poll_idle_seconds: float = Field(default=60.0, ge=0.5, le=3600)
    # A message handed to a device and not confirmed within this many seconds goes back to the
    # queue so another eligible device (or the same one, reconnected) can take it.
    lease_seconds: int = Field(default=600, ge=5)
    # Most messages one device holds at once (handed to it, not yet reported): a report frees a
    # slot, so a burst spreads over the connected devices and a slow phone is never handed more
    # than it can send before its leases, renewed while it is connected, would matter.
    device_window: int = Field(default=16, ge=1, le=1000)
    # Automatic retries of a message the operator refused (no credit, congestion), and the
    # first wait; each next wait is four times longer (30 s, 2 min, 8 min by default).
    retry_max: int = Field(default=MAX_AUTO_RETRIES, ge=0, le=20)
    retry_base_seconds: float = Field(default=RETRY_BASE_DELAY, ge=1, le=3600)
    # A message no phone has taken this many seconds after it could first be sent ends
    # "expired" instead of going out late; /sendsms/ may give each message its own ``ttl``.
    message_ttl_seconds: int = Field(
        default=DEFAULT_TTL_SECONDS, ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS
    )
    # Requests larger than this are refused before they are read into memory.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(default=1000, ge=1)
    # Argon2id cost of account passwords. "production" is argon2-cffi's default, RFC 9106's
    # low-memory profile (3 passes over 64 MiB, 4 lanes). "test" is a one-pass hash over 64 KiB,
    # for test suites that create hundreds of accounts; never use it for a real deployment.
    password_hash_cost: Literal["production", "test"] = "production"  # noqa: S105 - a cost level
    # A connection must deliver a complete request head (request line and headers) within this
    # many seconds of opening, or of the end of its previous response, or it is closed: idle and
    # slow-header ("slowloris") connections cannot pile up.
    request_head_timeout_seconds: float = Field(default=15.0, ge=0.1, le=300)
    # An idle keep-alive connection is closed this many seconds after its last response.
    keep_alive_timeout_seconds: int = Field(default=5, ge=1, le=300)
    # A received SMS that is one of these words (any case, closing punctuation ignored) puts its
    # sender on the account's opt-out list; one of ``optin_keywords`` takes it off. In the
    # environment, a comma-separated list (``SIMGATE_OPTOUT_KEYWORDS=STOP,FIN``); empty: none.
    optout_keywords: Annotated[tuple[str, ...], NoDecode] = DEFAULT_OPTOUT_KEYWORDS
    optin_keywords: Annotated[tuple[str, ...], NoDecode] = DEFAULT_OPTIN_KEYWORDS
    # Requests one API key (or one OAuth client's tokens) may make: a sustained rate per second
    # and a burst above it; past them, 429 with Retry-After. 0 turns the limit off.
    api_rate_per_second: float = Field(default=20.0, ge=0)
    api_rate_burst: int = Field(default=40, ge=1)
    # Failed authentications (wrong, revoked, expired or missing key or token) one client
    # address may make per minute before it gets 429s; guessing keys stays hopeless. 0: off.
    auth_failures_per_minute: int = Field(default=20, ge=0)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated
    # in the environment: ``SIMGATE_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/8``). Empty: the peer
    # address is the client, whatever the header says.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # How long a process may reuse a credential it checked without asking the store again. A
    # revocation reaches this process at once; other processes (and one the CLI revoked from)
    # notice within this many seconds. 0: every request asks the store.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # API keys' "last used" times are kept in memory and written at most this often.
    last_used_flush_seconds: float = Field(default=10.0, gt=0, le=3600)
    # Lifetime of an OAuth2 access token (``expires_in``).
    oauth_token_seconds: int = Field(default=3600, ge=60, le=86400)
    # One log line per HTTP request (method, path, status, milliseconds; no query string, so
    # no key and no message text). SIMGATE_ACCESS_LOG=0 turns it off.
    access_log: bool = True
    # /metrics: with a token, scrapers send ``Authorization: Bearer <token>`` from anywhere;
    # without one, /metrics answers loopback clients only (a Prometheus on the same host, or
    # a reverse proxy in front, which then decides who may read it).
    metrics_token: SecretStr | None = None

    # Key that seals stored secrets (webhook signing secrets): a Fernet key or 32+ characters.
    # Unset: a key file (``secret_key_file``, else simgate.key beside the SQLite database),
    # created 0600 on first use. Servers sharing one PostgreSQL database must share this key.
    secret_key: SecretStr | None = None
    secret_key_file: str | None = None
    # Webhook receivers on loopback or private addresses (a LAN, the same host) are refused
    # unless this is set; link-local and cloud metadata addresses are always refused.
    webhook_allow_private: bool = False
    # One webhook POST waits this long for the receiver's answer.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The first retry of a failed delivery waits about this long, each next one twice as long
    # (jittered, at most webhook_retry_cap_seconds); a delivery still failing this long after
    # its event is dead-lettered.
    webhook_retry_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    webhook_retry_cap_seconds: float = Field(default=4 * 3600.0, gt=0, le=86_400)
    webhook_retry_window_seconds: float = Field(default=86_400.0, gt=0, le=30 * 86_400)
    # Webhook POSTs one process has in flight at once.
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)

    # Dashboard sessions end after this many seconds without a page or action (polling fragments
    # do not count), and in any case this long after signing in.
    dashboard_idle_seconds: int = Field(default=1800, ge=60, le=7 * 86_400)
    dashboard_session_max_seconds: int = Field(default=7 * 86_400, ge=300, le=90 * 86_400)
    # Failed dashboard sign-ins of one client address for one e-mail within 15 minutes: past
    # ``dashboard_signin_free_failures`` each answer waits ``dashboard_signin_delay_seconds``;
    # at ``dashboard_signin_max_failures`` the form answers 429 with Retry-After.
    dashboard_signin_free_failures: int = Field(default=3, ge=0, le=100)
    dashboard_signin_max_failures: int = Field(default=10, ge=1, le=1000)
    dashboard_signin_delay_seconds: float = Field(default=1.0, ge=0, le=10)

    @field_validator("bus_url")
    @classmethod
    def _postgres_bus(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("postgresql"):
            raise ValueError("the bus needs PostgreSQL: postgresql+asyncpg://user:pass@host/db")
        return value or None

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        # A typo would make every number written without + unreadable: fail at start-up.
        code = value.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"unknown region {value!r}; use an ISO 3166 alpha-2 code such as BE, FR or US"
            )
        return code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # A typo fails at start-up. ZoneInfoNotFoundError is a KeyError, which pydantic does
        # not turn into a validation error: say it as one.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Brussels"
            ) from exc
        return value

    @field_validator("optout_keywords", "optin_keywords", mode="before")
    @classmethod
    def _keyword_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(word.strip() for word in value.split(",") if word.strip())
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            ip_network(item, strict=False)  # raises for a typo, so it fails at start-up
        return value

    @field_validator("optout_keywords", "optin_keywords")
    @classmethod
    def _usable_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for word in value:
            if not keyword_form(word) or len(keyword_form(word)) > MAX_KEYWORD_CHARS:
                raise ValueError(f"{word!r} cannot be a keyword (1 to {MAX_KEYWORD_CHARS} letters)")
        return value

    @model_validator(mode="after")
    def _keywords_disjoint(self) -> Settings:
        both = {keyword_form(word) for word in self.optout_keywords} & {
            keyword_form(word) for word in self.optin_keywords
        }
        if both:
            raise ValueError(f"keywords both opt out and opt in: {', '.join(sorted(both))}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

"""The schema, as SQLAlchemy Core tables. Alembic migrations create exactly this (a test checks)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Stable constraint names make migrations reproducible on both engines.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only gives AUTOINCREMENT semantics to INTEGER PRIMARY KEY; BigInteger keeps PostgreSQL
# ids 64-bit while SQLite still gets a rowid alias.
Id = BigInteger().with_variant(Integer(), "sqlite")

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # How the dispatcher picks among the account's devices: round_robin, least_loaded, sticky.
    Column("routing_policy", String(16), nullable=False, server_default="round_robin"),
    # Where the account's numbers without + are read (ISO 3166 alpha-2); NULL: the server's
    # SIMGATE_DEFAULT_REGION.
    Column("region", String(2), nullable=True),
    # When an operator last changed the account's settings (region, routing policy): what
    # every server process watches to refresh what it caches about accounts.
    Column("changed_ms", BigInteger, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("label", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=True),
    Column("revoked_ms", BigInteger, nullable=True),
    # Written in batches by the authenticator (at most every few seconds), not per request.
    Column("last_used_ms", BigInteger, nullable=True),
    Index("ix_api_keys_account", "account_id"),
)

# OAuth2 clients (RFC 6749 client credentials grant). ``client_id`` is public; the secret is
# kept only as a SHA-256 digest, like an API key.
oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", String(40), nullable=False, unique=True),
    Column("secret_prefix", String(16), nullable=False),
    Column("secret_digest", String(64), nullable=False),
    Column("name", Text, nullable=False, default=""),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger, nullable=True),
    Column("last_used_ms", BigInteger, nullable=True),
    Index("ix_oauth_clients_account", "account_id"),
)

# Access tokens issued to OAuth2 clients, as digests only. A token is valid while it has not
# expired and its client is not revoked (checked by a join), so revoking a client kills its
# tokens at once; deleting the client deletes them.
oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("client_ref", Id, ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("expires_ms", BigInteger, nullable=False),
    Index("ix_oauth_tokens_expires", "expires_ms"),
    Index("ix_oauth_tokens_client", "client_ref"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("sid", String(40), nullable=False, unique=True),
    Column("label", Text, nullable=False, default=""),
    Column("phone_number", Text, nullable=False, default=""),
    Column("token_prefix", String(16), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=True),
    Column("battery", Integer, nullable=True),
    Column("signal", Integer, nullable=True),
    Column("version", Text, nullable=True),
    Column("driver", Text, nullable=True),
    # JSON-encoded lists, e.g. "[1, 2]" and '["sms"]'.
    Column("sims", Text, nullable=False, default="[]"),
    Column("capabilities", Text, nullable=False, default="[]"),
    # Pacing set by the owner (None: not set, the agent's reported limit applies).
    Column("rate_per_minute", Integer, nullable=True),
    Column("rate_per_hour", Integer, nullable=True),
    Column("daily_cap", Integer, nullable=True),
    # The limit the agent reported in its hello: at most `count` sends per `seconds`.
    Column("reported_rate_count", Integer, nullable=True),
    Column("reported_rate_seconds", Integer, nullable=True),
    Column("charging", Boolean, nullable=True),
    Column("online_since_ms", BigInteger, nullable=True),
    Column("offline_since_ms", BigInteger, nullable=True),
    Index("ix_devices_account", "account_id"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guid", String(40), nullable=False, unique=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("recipient", Text, nullable=False),
    # What the radio sends: after short-link rewriting, or the link to an encrypted message.
    Column("text", Text, nullable=False),
    Column("encoding", String(8), nullable=False),
    Column("parts", Integer, nullable=False),
    Column("channel", String(16), nullable=False, default="sms"),
    Column("state", String(16), nullable=False),
    Column("port", Integer, nullable=True),
    Column("requested_sid", String(40), nullable=True),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="SET NULL"), nullable=True),
    Column("device_sid", String(40), nullable=True),
    Column("sent_sim", Integer, nullable=True),
    Column("schedule_ms", BigInteger, nullable=True),
    # Earliest time the dispatcher may hand it out: the schedule, or a retry's backoff.
    Column("not_before_ms", BigInteger, nullable=False),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("dispatched_ms", BigInteger, nullable=True),
    Column("sent_ms", BigInteger, nullable=True),
    # When the recipient's phone got it, from the operator's delivery report (a sent message).
    Column("delivered_ms", BigInteger, nullable=True),
    Column("error_api", Text, nullable=False, default=""),
    Column("error_mobile", Text, nullable=False, default=""),
    Column("retries", Integer, nullable=False, default=0),
    Column("shorturl", Boolean, nullable=False, default=False),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("source", String(16), nullable=False, default="api"),
    # Past this moment a message not yet handed to a phone ends expired (its TTL).
    Column("expires_ms", BigInteger, nullable=True),
    Index("ix_messages_account_id", "account_id", "id"),
    # The scheduler's questions span accounts: what is due (or next due) in a given state.
    Index("ix_messages_due", "state", "not_before_ms"),
    Index("ix_messages_device_state", "device_id", "state"),
    Index("ix_messages_expiry", "state", "expires_ms"),
    Index("ix_messages_device_dispatched", "device_id", "dispatched_ms"),
    # The dispatcher walks an account's queue in id order: no sort of the whole queue.
    Index("ix_messages_queue", "account_id", "state", "id"),
    # The dashboard (0008): the Sent list by number (newest first) and by creation date, and
    # the overview's sent/failed per day (covering: no row is read to count).
    Index("ix_messages_account_recipient", "account_id", "recipient", "id"),
    Index("ix_messages_account_created", "account_id", "created_ms"),
    Index("ix_messages_account_state_created", "account_id", "state", "created_ms"),
    # Each device's sent-today count (devices page, /gateway/mobile/list/): today's sent rows
    # only, instead of every sent message of the account.
    Index("ix_messages_account_state_sent", "account_id", "state", "sent_ms"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("guid", String(40), nullable=False, unique=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
    Column("device_sid", String(40), nullable=False),
    Column("number", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("sim", Integer, nullable=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("read", Boolean, nullable=False, default=False),
    Column("alias", Text, nullable=True),
    # "<device id>:<frame id>": a frame resent after a reconnect is stored once.
    Column("dedup_key", String(120), nullable=False),
    UniqueConstraint("dedup_key", name="uq_inbox_dedup_key"),
    Index("ix_inbox_account_id", "account_id", "id"),
    # The dashboard's received-per-day and devices' received today (0008).
    Index("ix_inbox_account_received", "account_id", "received_ms"),
)

mobile_sent = Table(
    "mobile_sent",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", Id, ForeignKey("devices.id", ondelete="CASCADE"), nullable=True),
    Column("device_sid", String(40), nullable=False),
    Column("number", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("mobile_date_ms", BigInteger, nullable=False),
    Column("mobile_date_formatted", Text, nullable=False),
    Column("synchro_ms", BigInteger, nullable=False),
    Column("dedup_key", String(120), nullable=False),
    UniqueConstraint("dedup_key", name="uq_mobile_sent_dedup_key"),
    Index("ix_mobile_sent_account_time", "account_id", "synchro_ms"),
)

short_links = Table(
    "short_links",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("message_guid", String(40), nullable=False),
    Column("url", Text, nullable=False),
    Column("clicks", Integer, nullable=False, default=0),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_short_links_message", "message_guid"),
)

sealed_messages = Table(
    "sealed_messages",
    metadata,
    Column("code", String(24), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("message_guid", String(40), nullable=False, unique=True),
    # AES-256-GCM with a key derived by PBKDF2-SHA256 from the passphrase the sender receives
    # once; all base64url. The server never holds the passphrase or the key.
    Column("salt", String(64), nullable=False),
    Column("iterations", Integer, nullable=False),
    Column("nonce", String(32), nullable=False),
    Column("ciphertext", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

opt_outs = Table(
    "opt_outs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # E.164 where the sender was a phone number, as received otherwise.
    Column("number", Text, nullable=False),
    # What put it there: "keyword" (an inbound STOP), "api" or "cli".
    Column("source", String(16), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("account_id", "number", name="uq_opt_outs_account_number"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(255), nullable=False),
    # SHA-256 of the request's parameters: the same key with another request is a conflict.
    Column("request_digest", String(64), nullable=False),
    # The first answer, returned again for a repeat within 24 hours.
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("account_id", "key", name="uq_idempotency_keys_account_key"),
    Index("ix_idempotency_keys_created", "created_ms"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    # The signing secret, sealed with the server's key (simgate/secretbox.py), never in clear.
    Column("secret_sealed", Text, nullable=False),
    # "legacy" or "v2"; the event types wanted, comma-separated.
    Column("format", String(8), nullable=False),
    Column("events", Text, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_webhook_endpoints_account", "account_id", "id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column(
        "endpoint_id", Id, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    # The event, the same for every endpoint that gets it and for every retry: its UUID, type,
    # what it is about (a message's GUID: deliveries of one subject keep their order), when it
    # happened, when it was made, and its data (JSON).
    Column("event_id", String(36), nullable=False),
    Column("type", String(40), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("occurred_ms", BigInteger, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    # pending, delivering (claimed under a lease), delivered, dead (simgate/domain/webhooks.py).
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_ms", BigInteger, nullable=True),
    # A retry due after this moment is not made: the delivery is dead-lettered instead.
    Column("deadline_ms", BigInteger, nullable=False),
    Column("lease_until_ms", BigInteger, nullable=True),
    Column("last_attempt_ms", BigInteger, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_response", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_latency_ms", Integer, nullable=True),
    Column("delivered_ms", BigInteger, nullable=True),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_ms"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    Index("ix_webhook_deliveries_subject", "endpoint_id", "subject", "id"),
)

# Dashboard sessions: the browser holds a random token (in a signed cookie); only its SHA-256
# digest is stored, so a copy of the database cannot be used to sign in. Signing out deletes
# the row; a password change deletes the account's other rows.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    # The last page or action (not polling); past the idle timeout the session is over.
    Column("last_seen_ms", BigInteger, nullable=False),
    Index("ix_dashboard_sessions_account", "account_id"),
)

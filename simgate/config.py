"""Settings, read once from ``SIMGATE_*`` environment variables into one typed object.

Nothing else in the package reads the environment: the settings object is built at the entry
point and passed down, so tests build it explicitly and never leak state between each other.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator may tune, with defaults that work on a laptop."""

    model_config = SettingsConfigDict(env_prefix="SIMGATE_", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./simgate.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # The address recipients and clients see; short links and encrypted-message links use it.
    public_base_url: str = "http://127.0.0.1:8000"
    # Region used to read national numbers such as "0470 12 34 56" (ISO 3166 alpha-2).
    default_region: str = "BE"
    # Zone of the human-readable dates in responses ("date", "hour", "datetimeLocal", ...).
    timezone: str = "UTC"
    log_level: str = "info"
    # A device counts as online while its last heartbeat is younger than this.
    device_online_seconds: int = Field(default=60, ge=5)
    # Seconds between the server's pings to a connected device.
    heartbeat_seconds: int = Field(default=25, ge=1)
    # A message handed to a device and not confirmed within this many seconds goes back to the
    # queue so another eligible device (or the same one, reconnected) can take it.
    lease_seconds: int = Field(default=600, ge=5)
    # Requests larger than this are refused before they are read into memory.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(default=1000, ge=1)

    @field_validator("default_region")
    @classmethod
    def _upper_region(cls, value: str) -> str:
        return value.upper()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone, so a typo fails at start-up
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

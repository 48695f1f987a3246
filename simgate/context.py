"""What every use case needs, bundled once at start-up and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simgate.bus import Bus, InProcessBus
from simgate.clock import now_ms
from simgate.config import Settings
from simgate.secretbox import SecretBox, secret_box
from simgate.services.heartbeats import Heartbeats
from simgate.services.regions import AccountRegions
from simgate.store.database import Database
from simgate.webhooks.subscriptions import Subscriptions


@dataclass
class Context:
    settings: Settings
    db: Database
    bus: Bus = field(default_factory=InProcessBus)
    clock: Callable[[], int] = now_ms
    #: Seals and opens stored secrets (webhook signing secrets).
    secrets: SecretBox = field(init=False)
    #: Which endpoints of an account want which events, cached for the hot path.
    subscriptions: Subscriptions = field(init=False)
    #: Devices' heartbeats, written together (see :mod:`simgate.services.heartbeats`).
    heartbeats: Heartbeats = field(init=False)
    #: Where each account reads numbers without + (see :mod:`simgate.services.regions`).
    regions: AccountRegions = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = secret_box(self.settings)
        self.subscriptions = Subscriptions(self.bus)
        self.heartbeats = Heartbeats(self.db.begin, self.settings.last_seen_flush_seconds)
        self.regions = AccountRegions(self.db.connect, self.bus, self.settings.default_region)

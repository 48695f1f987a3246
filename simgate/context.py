"""What every use case needs, bundled once at start-up and passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from simgate.bus import Bus, InProcessBus
from simgate.clock import now_ms
from simgate.config import Settings
from simgate.store.database import Database


@dataclass
class Context:
    settings: Settings
    db: Database
    bus: Bus = field(default_factory=InProcessBus)
    clock: Callable[[], int] = now_ms

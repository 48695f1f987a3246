"""What the dashboard keeps for one process: its keys, its sign-in throttle, the guard."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from simgate.api.guard import Guard
from simgate.context import Context
from simgate.domain.signin import SignInThrottle
from simgate.services.overview import History


@dataclass
class Dashboard:
    ctx: Context
    #: The API's guard: the dashboard reads client addresses through the same trusted proxies.
    guard: Guard
    throttle: SignInThrottle = field(init=False)
    #: The overview's counts of past days, reused for a minute.
    history: History = field(init=False, default_factory=History)
    _keys: dict[str, bytes] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        settings = self.ctx.settings
        self.throttle = SignInThrottle(
            free=settings.dashboard_signin_free_failures,
            limit=settings.dashboard_signin_max_failures,
            delay=settings.dashboard_signin_delay_seconds,
        )

    def key(self, purpose: str) -> bytes:
        """A key derived from the server's secret (created on first use, then reused)."""
        if purpose not in self._keys:
            self._keys[purpose] = self.ctx.secrets.derive(f"dashboard:{purpose}")
        return self._keys[purpose]


def dashboard(request: Request) -> Dashboard:
    """The dashboard state of the app serving ``request``."""
    state: Dashboard = request.app.state.dashboard
    return state

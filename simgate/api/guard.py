"""Who is calling, and whether they may: client address, credential, rate limits.

Two limits, both answered with 429 and ``Retry-After``:

- per credential (an API key, or all tokens of one OAuth client): ``api_rate_per_second``
  sustained with bursts up to ``api_rate_burst``, so a leaked key cannot drain a SIM at wire
  speed;
- per client address, for failed authentications (wrong, revoked or expired credential, or a
  failed OAuth client login): ``auth_failures_per_minute``. An address past it is refused before
  its credential is even looked at, so guessing keys gets nowhere, and a valid key from another
  address is not affected.

The client address is the peer's, unless the peer is one of ``trusted_proxies``: then the
right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy. uvicorn's own
proxy-header rewriting is off (see ``serving``), so nothing else decides this.
"""

from __future__ import annotations

import time
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from starlette.types import Scope

from simgate.config import Settings
from simgate.domain.errors import ApiExpired, InvalidApiKey, MissingApiKey, RateLimited
from simgate.domain.ratelimit import Buckets, retry_after
from simgate.services.access import Authenticator, Principal


class Guard:
    """The rate limits and trusted proxies of one process, around its :class:`Authenticator`."""

    def __init__(self, settings: Settings, authenticator: Authenticator) -> None:
        self.authenticator = authenticator
        self._proxies: list[IPv4Network | IPv6Network] = [
            ip_network(item, strict=False) for item in settings.trusted_proxies
        ]
        self._per_credential = (
            Buckets(settings.api_rate_per_second, settings.api_rate_burst)
            if settings.api_rate_per_second > 0
            else None
        )
        failures = settings.auth_failures_per_minute
        self._failures = Buckets(failures / 60, failures) if failures > 0 else None

    def client_address(self, scope: Scope) -> str:
        """The address the request came from, through trusted proxies only."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self._proxies or not self._trusted(peer):
            return peer
        forwarded: list[str] = []
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
        for hop in reversed([hop for hop in forwarded if hop]):
            if not self._trusted(hop):
                return hop
        return forwarded[0] if forwarded else peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)

    def check_address(self, address: str) -> None:
        """``RateLimited`` while ``address`` is over its budget of failed authentications."""
        if self._failures is None:
            return
        wait = self._failures.wait(address, time.monotonic())
        if wait > 0:
            raise RateLimited(
                "Too many failed authentications from this address.",
                retry_after=retry_after(wait),
            )

    def failed(self, address: str) -> None:
        """Count one failed authentication against ``address``."""
        if self._failures is not None:
            self._failures.take(address, time.monotonic())

    async def authenticate(self, scope: Scope, secret: str | None) -> Principal:
        """The principal behind ``secret``, within the limits; the named error otherwise."""
        address = self.client_address(scope)
        self.check_address(address)
        if secret is None:
            raise MissingApiKey("Missing required parameter: apikey")
        try:
            principal = await self.authenticator.authenticate(secret)
        except (InvalidApiKey, ApiExpired):
            self.failed(address)
            raise
        if self._per_credential is not None:
            wait = self._per_credential.take(principal.credential, time.monotonic())
            if wait > 0:
                raise RateLimited(
                    "Too many requests with this credential.", retry_after=retry_after(wait)
                )
        return principal

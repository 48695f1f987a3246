"""Which URLs a webhook may POST to.

A webhook makes the server send requests where a user says, so without a guard it is a way
into the server's own network (SSRF): the cloud metadata service, an admin port on loopback,
a database on the LAN. The rules:

- ``http`` or ``https`` only, with a host; no user:password in the URL.
- Never a link-local address (``169.254.0.0/16``, ``fe80::/10``: where the cloud metadata
  services live), a known metadata address, an unspecified, multicast or reserved address.
- Loopback and private ranges (``127/8``, ``10/8``, ``172.16/12``, ``192.168/16``,
  ``100.64/10``, ``fc00::/7``, ``::1``) only when ``SIMGATE_WEBHOOK_ALLOW_PRIVATE=1``.

A host name is resolved and *every* address it resolves to must pass, at registration and again
before each delivery (a name may be re-pointed after registration). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Final
from urllib.parse import urlsplit

from simgate.domain.errors import InvalidParameter, invalid

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Metadata services outside the link-local range (Alibaba Cloud, AWS's IPv6 IMDS endpoint).
METADATA: Final = frozenset(
    ipaddress.ip_address(text) for text in ("100.100.100.200", "fd00:ec2::254")
)
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
MAX_URL_CHARS: Final = 2000


def check_address(  # noqa: PLR0911 - one early answer per rule reads best
    address: IpAddress, *, allow_private: bool
) -> str | None:
    """Why a POST to ``address`` is refused, or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_unspecified or address.is_multicast:
        return "not a unicast address"
    # Before "reserved": Python counts ::1 as reserved (it lies in ::/8).
    if address.is_loopback or address.is_private or address in _CGNAT:
        if allow_private:
            return None
        return "a loopback or private address (set SIMGATE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"
    if address.is_reserved:
        return "a reserved address"
    return None


def parse(url: str) -> tuple[str, int]:
    """The host and port of an acceptable-looking URL; else :class:`InvalidParameter`."""
    if len(url) > MAX_URL_CHARS:
        raise _refused(f"at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refused("not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise _refused("only http and https URLs are allowed")
    if not parts.hostname:
        raise _refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise _refused("credentials in the URL are not allowed (use the signature)")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` stands for (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a name: resolved below
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _refused(f"the host {host!r} does not resolve") from exc
    return sorted({ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}, key=str)


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`InvalidParameter` (on ``url``) unless ``url`` may receive webhooks now."""
    host, port = parse(url)
    addresses = await resolve(host, port)
    if not addresses:
        raise _refused(f"the host {host!r} does not resolve")
    for address in addresses:
        why = check_address(address, allow_private=allow_private)
        if why is not None:
            named = f"{host} is" if str(address) == host else f"{host} resolves to {address},"
            raise _refused(f"{named} {why}")


def _refused(why: str) -> InvalidParameter:
    return invalid("url", why)

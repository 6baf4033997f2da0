"""The client address that anonymous limits are keyed on, behind trusted proxies or not.

``hashbank serve`` runs uvicorn with ``proxy_headers=False``, so ``request.client`` is
always the socket peer; this module is the one place that reads ``X-Forwarded-For``.
The trust rule is uvicorn's ``--forwarded-allow-ips``: the header counts only when the
peer is a trusted proxy, and then the client is the rightmost hop that is not itself a
trusted proxy (every hop to its left could have been written by the client). IPv6
clients are grouped per /64, the block one subscriber usually gets, so a single user
cannot rotate through addresses to get a fresh bucket each time.

The address is returned to the caller, which keys an in-memory limit on an HMAC of it
(:mod:`app.services.ratelimit`): it is never stored or logged.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

__all__ = ["TrustedProxies", "client_address", "limit_key", "parse_trusted_proxies", "resolve"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed: networks, or ``*`` for all."""

    def __init__(self, networks: tuple[Network, ...] = (), *, everyone: bool = False) -> None:
        self.networks = networks
        self.everyone = everyone

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        ip = _ip(host)
        return ip is not None and any(ip in net for net in self.networks)

    def __bool__(self) -> bool:
        return self.everyone or bool(self.networks)


@lru_cache(maxsize=8)
def parse_trusted_proxies(text: str) -> TrustedProxies:
    """Parse ``HASHBANK_TRUSTED_PROXIES``: comma-separated addresses or CIDRs, or ``*``.

    Raises:
        ValueError: an entry is neither an address, a network nor ``*``.
    """
    entries = [e.strip() for e in text.split(",") if e.strip()]
    if "*" in entries:
        return TrustedProxies(everyone=True)
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"not an address or a network: {entry!r}") from exc
    return TrustedProxies(tuple(networks))


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:192.0.2.1 is 192.0.2.1
    return ip


def limit_key(host: str) -> str:
    """What a limit is keyed on: an IPv4 address, an IPv6 /64, or the text as it came."""
    ip = _ip(host)
    if ip is None:
        return host.strip()  # not an address (a misconfigured proxy): still one bucket
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def resolve(peer: str, forwarded_for: list[str], trusted: TrustedProxies) -> str:
    """The client's host: ``peer``, or the rightmost untrusted ``X-Forwarded-For`` hop
    when ``peer`` is a trusted proxy (all hops trusted: the leftmost, as uvicorn does)."""
    if not trusted or peer not in trusted:
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    if not hops:
        return peer
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return hops[0]


def client_address(request: Request, trusted_proxies: str) -> str:
    """The key of ``request``'s client for anonymous limits (see :func:`limit_key`);
    ``trusted_proxies`` is ``HASHBANK_TRUSTED_PROXIES``."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.getlist("x-forwarded-for")
    return limit_key(resolve(peer, forwarded, parse_trusted_proxies(trusted_proxies)))

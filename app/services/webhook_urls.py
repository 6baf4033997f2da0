"""Webhook URLs: validated when added, and resolved and checked again at each delivery.

The server-side request forgery rules (docs/security.md): ``https`` only (``http`` too
when ``HASHBANK_WEBHOOK_ALLOW_HTTP``), no user name or password, no fragment, a port in
1-65535, at most 2,048 characters; the host name is resolved and **every** address it
resolves to must be public: loopback, private, link-local (the cloud metadata service
169.254.169.254 among them), shared (100.64/10), multicast, reserved and unspecified
addresses are refused unless the host name or the address is listed in
``HASHBANK_WEBHOOK_ALLOWED_HOSTS``. The delivery then connects to the address that was
checked (:attr:`Target.address`), not to whatever a second look-up answers: a name
rebound to 127.0.0.1 between the check and the connection is never reached.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from app.errors import InvalidInput

__all__ = ["MAX_URL_LENGTH", "Resolver", "Target", "UrlPolicy", "system_resolver"]

MAX_URL_LENGTH = 2048
Resolver = Callable[[str, int], list[str]]

# Cloud metadata services outside the link-local block (which is refused anyway)
_METADATA = {
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system's resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    """Where one delivery goes: the URL as registered, and the checked address."""

    url: str
    scheme: str
    host: str  # the host name (or address) of the URL, lower-case
    port: int
    address: str  # the checked IP address the delivery connects to

    @property
    def connect_url(self) -> str:
        """The URL with its host replaced by the checked address (Host and SNI keep the name)."""
        parts = urlsplit(self.url)
        addr = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{addr}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def _refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a delivery may not go to ``ip``, or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


class UrlPolicy:
    """The rules above, with this deployment's settings."""

    def __init__(
        self,
        *,
        allow_http: bool = False,
        allowed_hosts: str = "",
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_http = allow_http
        self.allowed = frozenset(h.strip().lower() for h in allowed_hosts.split(",") if h.strip())
        self.resolver = resolver

    def parse(self, url: str) -> SplitResult:
        """The parts of a well-formed webhook URL.

        Raises:
            InvalidInput: scheme, host, port, length or characters are wrong.
        """
        if len(url) > MAX_URL_LENGTH:
            raise InvalidInput(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
            raise InvalidInput("the URL has spaces or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise InvalidInput(f"not a valid URL: {exc}") from None
        schemes = ("https", "http") if self.allow_http else ("https",)
        if parts.scheme not in schemes:
            raise InvalidInput(
                "the URL must start with https://"
                + ("" if self.allow_http else " (http is off: HASHBANK_WEBHOOK_ALLOW_HTTP)")
            )
        if not parts.hostname:
            raise InvalidInput("the URL has no host")
        if parts.username is not None or parts.password is not None:
            raise InvalidInput("the URL may not carry a user name or password")
        if parts.fragment:
            raise InvalidInput("the URL may not have a fragment (#...)")
        if port is not None and not 1 <= port <= 65535:
            raise InvalidInput("the URL's port must be 1-65535")
        try:
            parts.hostname.encode("idna")
        except UnicodeError:
            raise InvalidInput("the URL's host is not a valid name") from None
        return parts

    def check(self, url: str) -> Target:
        """Validate ``url``, resolve its host and check every address.

        Raises:
            InvalidInput: the URL is malformed, its host does not resolve, or an address
                is refused (the reason says which rule).
        """
        parts = self.parse(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
                host
            )
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolver(host.encode("idna").decode(), port)
            except (OSError, UnicodeError):
                raise InvalidInput(f"the URL's host {host!r} does not resolve") from None
            if not addresses:
                raise InvalidInput(f"the URL's host {host!r} does not resolve")
        if host not in self.allowed:
            for address in addresses:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
                why = _refused(ip)
                if why is not None and str(ip) not in self.allowed:
                    raise InvalidInput(
                        f"the URL's host resolves to {why} ({ip}); "
                        "list it in HASHBANK_WEBHOOK_ALLOWED_HOSTS to allow it"
                    )
        return Target(url, parts.scheme, host, port, addresses[0].split("%", 1)[0])

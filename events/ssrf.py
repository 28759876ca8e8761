"""Webhook URLs may only reach the public internet (no server-side request forgery).

Checked when an endpoint is saved and again before every delivery, after DNS resolution,
on the very addresses the delivery then connects to: a host name that later resolves to an
internal address (DNS rebinding) is refused at delivery time too.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why, for the API's 400 and the log."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


# IPv6 addresses that carry an IPv4 address in their last 32 bits and reach it: NAT64's
# well-known prefix (RFC 6052) and the IPv4-translated (SIIT) and deprecated IPv4-compatible
# forms. A NAT64 gateway, for one, forwards 64:ff9b::10.0.0.5 to 10.0.0.5.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Never public, though Python counts them as global: the IPv4-compatible and translated
# forms, and the local-use NAT64 prefix (RFC 8215), which maps to any IPv4 the site chooses.
_NOT_PUBLIC_V6 = (_TRANSLATED, _COMPATIBLE, ipaddress.IPv6Network("64:ff9b:1::/48"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (mapped, NAT64, 6to4...), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _TRANSLATED or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why a webhook may not go to this address, or None if it is a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and (reason := forbidden_reason(embedded)) is not None:
            return reason
        if any(address in network for network in _NOT_PUBLIC_V6) and int(address) > 1:
            return "reserved (not public)"
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_private, "private"),
        (not address.is_global, "reserved (not public)"),
    )
    for matched, reason in checks:
        if matched:
            return reason
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of a webhook URL; UnsafeURL if it may not be used."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.") from exc
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeURL("Webhook URLs must start with https://.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("The URL may not carry a user name or password.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default_port, path


def resolve(url: str) -> Target:
    """Parse the URL and resolve its host; UnsafeURL naming the reason if any address it
    resolves to is not public (unless WEBHOOK_ALLOW_PRIVATE_NETWORKS) or it does not resolve."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"The host {host!r} could not be resolved.") from exc
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise UnsafeURL(f"The host {host!r} could not be resolved.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        for text in addresses:
            reason = forbidden_reason(ipaddress.ip_address(text))
            if reason is not None:
                raise UnsafeURL(
                    f"The host {host!r} resolves to {text}, a {reason} address; "
                    "webhooks are sent to public addresses only."
                )
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=tuple(addresses))

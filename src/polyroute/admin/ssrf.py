"""The SSRF guard for provider endpoints an operator types into the admin API.

A provider's key is sent to its endpoint, and a connectivity test makes the
server itself open a connection there, so an endpoint must not point back into
the server's own network: loopback, private (RFC 1918, ULA), carrier-grade NAT,
link-local, cloud metadata (169.254.169.254, fd00:ec2::254,
metadata.google.internal), unspecified, multicast and every other non-global
range are refused — for the address as written (decimal, octal and hex IPv4
spellings included) and for every address its host name resolves to.

Local model servers (vLLM, Ollama on 127.0.0.1 or a LAN host) need the
operator's explicit ``allow_private_endpoints`` (``POLYROUTE_ADMIN_ALLOW_PRIVATE_ENDPOINTS=1``
or ``polyroute serve --allow-private-endpoints``); cloud metadata stays refused even then.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from polyroute.admin.errors import RegistryValidationError

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "Resolver",
    "allow_private_from_env",
    "check_endpoint",
    "system_resolver",
]

ALLOW_PRIVATE_ENV = "POLYROUTE_ADMIN_ALLOW_PRIVATE_ENDPOINTS"

Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``; tests replace the system's with a table."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA_NAMES = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
    "instance-data.ec2.internal",
})
_METADATA_IPS = frozenset({
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_address("169.254.170.2"),  # ECS task credentials
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
})
# What inet_aton accepts beyond dotted decimal: 2130706433, 0177.0.0.1, 0x7f.1 ...
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


def allow_private_from_env() -> bool:
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


def _refuse(field: str, message: str, fix: str) -> RegistryValidationError:
    return RegistryValidationError(message, file="registry", field=field, fix=fix)


def _literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form a resolver would accept, or ``None``."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        pass
    if _LEGACY_V4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _why_internal(ip: IPAddress) -> str | None:
    ip = _unwrap(ip)
    if ip in _METADATA_IPS:
        return "a cloud metadata address"
    for test, what in (
        ("is_unspecified", "the unspecified address"), ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"), ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
    ):
        if getattr(ip, test):
            return what
    if not ip.is_global:  # CGNAT, documentation, benchmarking, reserved ranges
        return "a non-public address"
    return None


def check_endpoint(
    url: str, *, field: str = "api_endpoint", allow_private: bool = False,
    resolve: Resolver | None = None,
) -> None:
    """Refuse ``url`` unless it is http(s) to a public host (see the module doc)."""
    fix_private = ("use the provider's public URL; for a local model server (vLLM, Ollama) "
                   f"the operator sets {ALLOW_PRIVATE_ENV}=1 or serve --allow-private-endpoints")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse(field, "the endpoint is not a valid URL",
                      "send a URL such as https://api.example.com/v1") from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(field, f"the endpoint's scheme '{parts.scheme}' is not http or https",
                      "send a URL such as https://api.example.com/v1")
    if parts.username is not None or parts.password is not None:
        raise _refuse(field, "the endpoint holds a user name or password",
                      "store the key as the provider's credential, not in the URL")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise _refuse(field, "the endpoint has no host", "send a URL such as https://api.example.com/v1")
    if host in _METADATA_NAMES:
        raise _refuse(field, f"the endpoint's host '{host}' is a cloud metadata service",
                      "use the provider's public URL")
    literal = _literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            answers = (resolve or system_resolver)(host, port)
        except (OSError, UnicodeError) as exc:
            raise _refuse(field, f"the endpoint's host '{host}' does not resolve ({exc})",
                          "check the host name and this server's DNS") from None
        addresses = []
        for a in answers:
            try:
                addresses.append(ipaddress.ip_address(str(a).split("%", 1)[0]))
            except ValueError:
                continue
        if not addresses:
            raise _refuse(field, f"the endpoint's host '{host}' resolves to no address",
                          "check the host name and this server's DNS")
    for ip in addresses:
        why = _why_internal(ip)
        if why is None:
            continue
        metadata = why == "a cloud metadata address"
        if allow_private and not metadata:
            continue
        shown = host if literal is not None else f"{host} (resolves to {ip})"
        raise _refuse(field, f"the endpoint {shown} is {why}; the server will not send "
                      "requests or keys there",
                      "use the provider's public URL" if metadata else fix_private)

"""Which backends a console may use: one address, a list to fail over across, or a DNS name.

`--backend a:p,b:p,c:p` becomes one gRPC channel target listing every address, with gRPC's
`pick_first` policy: the channel connects to the first address that answers and, when that
backend dies, to the next one that does (gRPC tries them in order, a short delay apart), while
the console's resilient streams reopen on it from where they left off (app/client/streams.py).
A single `name:port` keeps gRPC's DNS resolver, which also returns every address of the name and
re-resolves it after a failure. Host names in a list are resolved once, when the channel opens.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_BACKENDS = 16  # a room has a handful of replicas; a longer list is a typo


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_backends(text: str) -> list[Endpoint]:
    """`host:port[,host:port...]` (IPv6 as `[addr]:port`) → endpoints; ValueError says what is wrong."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError("no backend address given")
    if len(parts) > MAX_BACKENDS:
        raise ValueError(f"at most {MAX_BACKENDS} backend addresses, got {len(parts)}")
    out = []
    for part in parts:
        if part.startswith("["):
            host, sep, port = part[1:].partition("]:")
        else:
            host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r} is not HOST:PORT")
        out.append(Endpoint(host, int(port)))
    return out


def _literal(host: str) -> int:
    """4 or 6 for an IP literal, 0 for a host name."""
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return 0


Resolver = Callable[[str, int], Awaitable[list[tuple[int, str]]]]


async def channel_target(endpoints: list[Endpoint], resolve: Resolver) -> str:
    """The gRPC target for these endpoints: a single one as it is (DNS resolver), several as an
    `ipv4:`/`ipv6:` list of every address, in the order given (names resolved with `resolve`)."""
    if len(endpoints) == 1:
        return str(endpoints[0])
    addresses: list[tuple[int, str]] = []
    for ep in endpoints:
        version = _literal(ep.host)
        if version:
            addresses.append((version, str(ep)))
        else:
            addresses.extend((v, str(Endpoint(a, ep.port))) for v, a in await resolve(ep.host, ep.port))
    # gRPC's address-list schemes take one family: IPv4 wins where there is any.
    family = 4 if any(v == 4 for v, _ in addresses) else 6
    picked = list(dict.fromkeys(a for v, a in addresses if v == family))
    if not picked:
        raise ValueError("none of the backend names resolved")
    return f"ipv{family}:" + ",".join(picked)


def loop_resolver(loop: object) -> Resolver:
    """A resolver on an asyncio loop's getaddrinfo (never blocks the loop)."""

    async def resolve(host: str, port: int) -> list[tuple[int, str]]:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)  # type: ignore[attr-defined]
        return [(4 if fam == socket.AF_INET else 6, info[0]) for fam, _, _, _, info in infos]

    return resolve

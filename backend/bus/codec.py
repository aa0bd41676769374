"""Asset states on the bus: compact JSON, one message per state (a KV value per device)."""

from __future__ import annotations

import json
import re

from vigie.backend.domain.assets import Asset, Kind, Status

# KV keys allow [-/_=.a-zA-Z0-9]; anything else in an asset id is escaped as =XX (hex).
_UNSAFE = re.compile(r"[^-_/a-zA-Z0-9]")


def key_of(asset_id: str) -> str:
    """The KV key of an asset id (reversible: `id_of`). Dots are escaped too, since NATS reads
    them as subject separators."""
    return _UNSAFE.sub(lambda m: "".join(f"={b:02X}" for b in m.group().encode()), asset_id)


def id_of(key: str) -> str:
    """The asset id of a KV key made by `key_of`."""
    if "=" not in key:
        return key
    return re.sub(rb"=([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), key.encode()).decode()


def encode(a: Asset) -> bytes:
    """One state, without its revision (the stream sequence gives it)."""
    return json.dumps(
        [
            a.id,
            a.kind.value,
            a.name,
            a.district,
            a.lat,
            a.lon,
            a.status.value,
            a.status_reason,
            a.last_seen,
            a.heading_deg,
            a.attributes,
        ],
        separators=(",", ":"),
    ).encode()


def decode(data: bytes, revision: int) -> Asset:
    """A state read back, stamped with its stream sequence. Raises ValueError on a bad value."""
    try:
        i, kind, name, district, lat, lon, status, reason, seen, heading, attrs = json.loads(data)
        return Asset(
            id=str(i),
            kind=Kind(kind),
            name=str(name),
            district=str(district),
            lat=float(lat),
            lon=float(lon),
            status=Status(status),
            status_reason=str(reason),
            last_seen=float(seen),
            heading_deg=float(heading),
            attributes={str(k): str(v) for k, v in attrs.items()},
            revision=revision,
        )
    except (TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an asset state: {exc}") from exc

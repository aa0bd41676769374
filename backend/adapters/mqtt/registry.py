"""The devices file: the devices a backend expects (docs/devices.md, docs/schemas/devices.schema.json).

JSON, `{"devices": [{"id", "kind", "name", "district", "lat", "lon", "heading"?, "attributes"?}]}`.
Every problem is reported at once with the device's index and id, like the camera catalogue.
`vigie-devices --write-registry FILE` writes the simulated city's.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from vigie.backend.adapters.mqtt.wire import DEVICE_KINDS, ID_RE, KEY_RE, MAX_KEY, MAX_NAME, MAX_TEXT
from vigie.backend.domain.assets import Asset, Status

MAX_DEVICES = 200_000
MAX_FILE_BYTES = 200 * 1024 * 1024
NOT_HEARD = "no report received since the backend started"


class RegistryError(ValueError):
    """The devices file is unreadable or invalid; the message lists every problem, one a line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _check(i: int, d: Any, path: str) -> tuple[Asset | None, list[str]]:
    where = f"{path}: device #{i}"
    if not isinstance(d, dict):
        return None, [f"{where}: not an object"]
    did = d.get("id")
    where += f" (id {did!r})" if isinstance(did, str) else ""
    problems = []
    if not isinstance(did, str) or not ID_RE.match(did):
        problems.append(f"{where}: key 'id': [A-Za-z0-9._-], 1 to 64 characters")
    if d.get("kind") not in DEVICE_KINDS:
        problems.append(f"{where}: key 'kind': one of {', '.join(DEVICE_KINDS)}")
    for key, limit in (("name", MAX_NAME), ("district", MAX_KEY)):
        if not isinstance(d.get(key), str) or not 0 < len(d[key]) <= limit:
            problems.append(f"{where}: key {key!r}: a string of 1 to {limit} characters")
    for key, lo, hi in (("lat", -90, 90), ("lon", -180, 180), ("heading", 0, 360)):
        v = d.get(key, 0.0 if key == "heading" else None)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
            problems.append(f"{where}: key {key!r}: a number in [{lo}, {hi}]")
    attrs = d.get("attributes", {})
    if not isinstance(attrs, dict) or not all(
        KEY_RE.match(k) and isinstance(v, str) and len(v) <= MAX_TEXT for k, v in attrs.items()
    ):
        problems.append(f"{where}: key 'attributes': an object of short keys to strings")
    unknown = set(d) - {"id", "kind", "name", "district", "lat", "lon", "heading", "attributes"}
    if unknown:
        problems.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    if problems or not isinstance(did, str):
        return None, problems
    asset = Asset(
        id=did,
        kind=DEVICE_KINDS[d["kind"]],
        name=d["name"],
        district=d["district"],
        lat=float(d["lat"]),
        lon=float(d["lon"]),
        status=Status.OFFLINE,
        status_reason=NOT_HEARD,
        heading_deg=float(d.get("heading", 0.0)),
        attributes=dict(attrs),
    )
    return asset, []


def load_registry(path: str | os.PathLike[str]) -> list[Asset]:
    """The registered devices, OFFLINE until they report (raises RegistryError)."""
    p = str(path)
    try:
        if os.path.getsize(p) > MAX_FILE_BYTES:
            raise RegistryError([f"{p}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"])
        doc = json.loads(Path(p).read_bytes())
    except OSError as exc:
        raise RegistryError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    except ValueError as exc:
        raise RegistryError([f"{p}: not JSON: {exc}"]) from None
    devices = doc.get("devices") if isinstance(doc, dict) else None
    if not isinstance(devices, list):
        raise RegistryError([f'{p}: expected {{"devices": [...]}}'])
    if len(devices) > MAX_DEVICES:
        raise RegistryError([f"{p}: {len(devices)} devices, more than {MAX_DEVICES}"])
    out: list[Asset] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, d in enumerate(devices, start=1):
        asset, found = _check(i, d, p)
        problems += found
        if asset is not None:
            if asset.id in seen:
                problems.append(f"{p}: device #{i} (id {asset.id!r}): key 'id': listed twice")
            seen.add(asset.id)
            out.append(asset)
    if problems:
        raise RegistryError(
            problems[:200] + ([f"... and {len(problems) - 200} more"] if len(problems) > 200 else [])
        )
    return out


def registry_entry(a: Asset) -> dict[str, Any]:
    """One device as the devices file lists it (its static description, not its state)."""
    entry: dict[str, Any] = {
        "id": a.id,
        "kind": a.kind.value,
        "name": a.name,
        "district": a.district,
        "lat": round(a.lat, 7),
        "lon": round(a.lon, 7),
    }
    if a.heading_deg:
        entry["heading"] = round(a.heading_deg % 360, 1)
    if a.attributes:
        entry["attributes"] = dict(a.attributes)
    return entry

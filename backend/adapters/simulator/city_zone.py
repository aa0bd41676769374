"""The simulated city's time zone (Europe/Paris unless `vigie-backend --time-zone` says otherwise).

One setting per backend process, like the city itself: camera overlays, day and night in the
pictures and the daily telemetry curves all read it, so they agree with each other and with a
console configured for the same zone (app/city_time.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT = "Europe/Paris"

_zone = ZoneInfo(DEFAULT)


def load(name: str) -> ZoneInfo:
    """The zone called `name`; ValueError (with the reason) for an unknown or malformed name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris)") from exc


def zone() -> ZoneInfo:
    return _zone


def set_zone(name: str) -> ZoneInfo:
    global _zone
    _zone = load(name)
    return _zone

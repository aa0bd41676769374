"""The city's time zone for everything the console shows: header and wall clocks, alarm, journal,
audit and command times, snapshots. A control room watches one city, so its times are the city's
(Europe/Paris unless `vigie --time-zone` or the setting city/time_zone says otherwise), not the
machine's: they then agree with the camera pictures, which burn in the city's time (vigie-backend
--time-zone)."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT = "Europe/Paris"
SETTING = "city/time_zone"

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


def localtime(t: float | None = None) -> time.struct_time:
    """time.localtime() in the city's zone: a drop-in for time.strftime(fmt, localtime(t))."""
    return datetime.fromtimestamp(time.time() if t is None else t, _zone).timetuple()


def seconds_west(t: float) -> int:
    """The city's offset at unix time t as seconds west of UTC (time.timezone's, pyqtgraph's sign)."""
    offset = datetime.fromtimestamp(t, _zone).utcoffset()
    return -int(offset.total_seconds()) if offset is not None else 0


def strftime(fmt: str, t: float | None = None) -> str:
    return time.strftime(fmt, localtime(t))

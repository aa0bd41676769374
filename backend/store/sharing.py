"""One object for equal values decoded from many rows of a reloaded change log.

A log holds many versions of the same alarm or incident. Live, its versions are
`dataclasses.replace` copies that share their names, messages, coordinates and timeline entries;
reloaded from SQLite, each JSON row makes copies of its own. A reloaded alarm took ~1.15 KB against
~0.65 KB shared (measured on a soak's `alarms.sqlite3`, docs/soak.md), and a restarted backend holds
up to `--alarm-history` of them.

Only strings, non-zero floats and frozen records are pooled. Equal numbers of different types
(1, 1.0, True) and the two zeros (0.0, -0.0) compare equal, so pooling them could change a value.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")


class ValuePool:
    """Hands back the first value equal to the one given; lives for one load."""

    def __init__(self) -> None:
        self._values: dict[Any, Any] = {}

    def share(self, value: T) -> T:
        """`value`, or the equal one this pool saw first (a str, a frozen record, a tuple of them)."""
        return self._values.setdefault(value, value)

    def fields(self, d: dict[str, Any]) -> dict[str, Any]:
        """Pool the strings and non-zero floats of one decoded JSON object, in place."""
        for k, v in d.items():
            t = type(v)
            if t is str or (t is float and v != 0.0):
                d[k] = self._values.setdefault(v, v)
        return d

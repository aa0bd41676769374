"""Cardholders, access exceptions and access decisions as the console holds them (docs/modes.md,
"Cardholders, exceptions, access decisions"): plain dataclasses made by the client off the GUI
thread, and `AccessEventLog`, the bounded list of the latest decisions the panel shows live."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

MAX_EVENTS = 500  # decisions the panel keeps (the backend's journal keeps the rest)


@dataclass(frozen=True)
class Cardholder:
    person_id: str
    name: str
    organisation: str
    group: str
    badge_ids: tuple[str, ...]


@dataclass(frozen=True)
class Building:
    """What an exception may name: a building, its type, district and doors."""

    name: str
    building_type: str
    district: str
    access_point_ids: tuple[str, ...]


@dataclass(frozen=True)
class AccessExceptionRecord:
    """A person (or everyone of a group) let through some closed buildings inside a time window."""

    exception_id: str
    person_id: str
    group: str
    buildings: tuple[str, ...]
    building_types: tuple[str, ...]
    valid_from: float  # unix s
    valid_until: float
    note: str = ""
    created_by: str = ""
    created_at: float = 0.0

    def who(self, names: dict[str, str]) -> str:
        """The person's name (from the directory) or the group."""
        if self.person_id:
            return names.get(self.person_id, self.person_id)
        return f"group: {self.group}"

    def where(self) -> str:
        return ", ".join([*self.building_types, *self.buildings])


@dataclass(frozen=True)
class AccessEventRecord:
    """One decision at a door."""

    sequence: int
    time: float
    asset_id: str
    building: str
    building_type: str
    badge_id: str
    person_id: str
    person_name: str
    group: str
    granted: bool
    reason: str
    exception_id: str = ""
    run_id: str = ""
    district: str = ""


class AccessEventLog:
    """The newest decisions, newest first, at most MAX_EVENTS; a decision seen twice (a resumed
    stream's overlap) is kept once."""

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        self._events: deque[AccessEventRecord] = deque(maxlen=limit)
        self._last = 0

    def reset(self) -> None:
        self._events.clear()
        self._last = 0

    def add(self, events: Iterable[AccessEventRecord]) -> list[AccessEventRecord]:
        """Take decisions in sequence order; returns the new ones."""
        new = [e for e in events if e.sequence > self._last]
        for e in new:
            self._events.appendleft(e)
            self._last = e.sequence
        return new

    def events(self) -> list[AccessEventRecord]:
        return list(self._events)

"""Access control as data: cardholders, exceptions to a closure, and the decision at a door
(Qt-free, gRPC-free).

A door decides from its own published state: a badge deactivated on it is refused; an unlocked
door lets a known badge in; a locked door (a closed building, e.g. by the Health emergency mode)
refuses ordinary badges, "not permitted at this time", and lets in the people an exception names
(by person or by group) for that building, inside the exception's time window. As in the
lockdown exemptions of access-control systems, both the person and the door are named.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vigie.backend.domain.actions import format_time, parse_badges, parse_grants
from vigie.backend.domain.assets import Asset

NOT_PERMITTED = "not permitted at this time"
MAX_WINDOW_S = 31 * 86_400.0
MAX_EXCEPTIONS = 10_000


@dataclass(frozen=True, slots=True)
class Cardholder:
    person_id: str
    name: str
    organisation: str
    group: str
    badge_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AccessRule:
    """An exception: `person_id` or `group` may pass the closed doors of `buildings` (names) or
    of every building of `building_types`, from `valid_from` until `valid_until` (unix s)."""

    exception_id: str
    person_id: str
    group: str
    buildings: tuple[str, ...]
    building_types: tuple[str, ...]
    valid_from: float
    valid_until: float
    note: str = ""
    created_by: str = ""
    created_at: float = 0.0

    def covers(self, person: Cardholder, building: str, building_type: str, now: float) -> bool:
        if not self.valid_from <= now < self.valid_until:
            return False
        if self.person_id and self.person_id != person.person_id:
            return False
        if self.group and self.group != person.group:
            return False
        return building in self.buildings or building_type in self.building_types

    def who(self) -> str:
        return f"person {self.person_id}" if self.person_id else f"group {self.group}"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_json(d: dict) -> AccessRule:
        d = dict(d)
        d["buildings"] = tuple(d["buildings"])
        d["building_types"] = tuple(d["building_types"])
        return AccessRule(**d)


@dataclass(frozen=True, slots=True)
class AccessEvent:
    sequence: int
    time: float
    asset_id: str
    building: str
    building_type: str
    district: str
    badge_id: str
    person_id: str
    person_name: str
    group: str
    granted: bool
    reason: str
    exception_id: str = ""
    run_id: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def decide(
    door: Asset, badge_id: str, person: Cardholder | None, rules: list[AccessRule], now: float
) -> tuple[bool, str, str]:
    """(granted, reason, exception id) for `badge_id` presented at `door` at `now`."""
    attrs = door.attributes
    if person is None:
        return False, "unknown badge", ""
    if badge_id in parse_badges(attrs.get("badges_deactivated", "")):
        return False, "badge deactivated on this door", ""
    if attrs.get("lock") != "locked":
        return True, "badge accepted", ""
    building, btype = attrs.get("building", ""), attrs.get("building_type", "")
    for rule in rules:
        if rule.covers(person, building, btype, now):
            note = f" ({rule.note})" if rule.note else ""
            return (
                True,
                f"exempt: {rule.who()}{note} until {format_time(rule.valid_until)}",
                rule.exception_id,
            )
    until = parse_grants(attrs.get("temporary_access", "")).get(badge_id)
    if until is not None and until > now:
        return True, f"temporary access until {format_time(until)}", ""
    return False, NOT_PERMITTED, ""


def check_rule(
    rule: AccessRule, people: dict[str, Cardholder], groups: set[str], buildings: set[str], types: set[str]
) -> list[str]:
    """Why the exception cannot be kept (empty: fine)."""
    out = []
    if bool(rule.person_id) == bool(rule.group):
        out.append("name exactly one of person_id and group")
    elif rule.person_id and rule.person_id not in people:
        out.append(f"unknown person {rule.person_id[:64]!r}")
    elif rule.group and rule.group not in groups:
        out.append(f"unknown group {rule.group[:64]!r} (one of {', '.join(sorted(groups))})")
    if not rule.buildings and not rule.building_types:
        out.append("name at least one building or building type")
    unknown = [b for b in rule.buildings if b not in buildings]
    if unknown:
        out.append("unknown buildings: " + ", ".join(repr(b[:60]) for b in unknown[:10]))
    bad_types = [t for t in rule.building_types if t not in types]
    if bad_types:
        out.append("unknown building types: " + ", ".join(repr(t[:60]) for t in bad_types[:10]))
    if not rule.valid_from < rule.valid_until:
        out.append("valid_until must come after valid_from")
    elif rule.valid_until - rule.valid_from > MAX_WINDOW_S:
        out.append("the window may last 31 days at most")
    return out

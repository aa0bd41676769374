"""City modes as data: a mode is a list of steps, each an existing command action on a selection of
devices, with how it is reverted and which alarm causes it suppresses (Qt-free, gRPC-free).

Modes come from TOML files (format: docs/modes.md): the provided ones ship in
backend/provided_modes/, `--modes DIR` adds more. Like the camera catalogue
(backend/adapters/cameras/catalogue.py), a bad file is refused with every problem at once, each
naming the file, the mode and the step, so it is fixed in one pass.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigie.backend.domain.actions import ACTIONS, Action, Params, check_params, describe, target_attributes
from vigie.backend.domain.assets import Asset, Kind

PROVIDED_DIR = Path(__file__).resolve().parent.parent / "provided_modes"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
COLOR_RE = re.compile(r"^#[0-9A-Fa-f]{6}$")
CAUSE_RE = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_STEPS = 50
MAX_NEAR_M = 5000.0
REVERT_PREVIOUS = "previous"
REVERT_NONE = "none"
# Actions with no inverse in the action table: "previous" cannot give the old state back.
NOT_RESTORABLE = frozenset({Action.BADGE_DEACTIVATE, Action.BADGE_GRANT_TEMPORARY})

MODE_KEYS = ("id", "name", "description", "color", "wall_steps", "wall_cameras")
STEP_KEYS = ("name", "label", "action", "params", "select", "revert", "revert_params", "suppresses")
SELECT_KEYS = ("kinds", "districts", "building_types", "tags", "asset_ids", "near_building_types", "near_m")
PARAM_KEYS = ("level_percent", "preset", "badge_id", "until_hours")


class ModeFileError(ValueError):
    """Mode files are unreadable or invalid; the message lists every problem, one a line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Selection:
    """Devices matching every given criterion (a list matches any of its entries)."""

    kinds: tuple[Kind, ...] = ()
    districts: tuple[str, ...] = ()
    building_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    asset_ids: tuple[str, ...] = ()
    near_building_types: tuple[str, ...] = ()
    near_m: float = 0.0

    def text(self) -> str:
        """The selection in words, for the operator."""
        parts = [" or ".join(k.value.replace("_", " ") + "s" for k in self.kinds) or "devices"]
        if self.building_types:
            parts.append("of " + ", ".join(self.building_types))
        if self.tags:
            parts.append("tagged " + ", ".join(self.tags))
        if self.districts:
            parts.append("in " + ", ".join(self.districts))
        if self.asset_ids:
            parts.append(f"among {len(self.asset_ids)} listed devices")
        if self.near_building_types:
            parts.append(f"within {self.near_m:g} m of " + ", ".join(self.near_building_types))
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    label: str
    action: Action
    params: Params
    selection: Selection
    revert: str = REVERT_PREVIOUS  # "previous", "none" or an action's name
    revert_params: Params = Params()
    suppresses: tuple[str, ...] = ()
    until_hours: float = 0.0  # BADGE_GRANT_TEMPORARY: `until` is set at activation


@dataclass(frozen=True, slots=True)
class ModeDef:
    id: str
    name: str
    description: str
    color: str
    steps: tuple[Step, ...]
    source: str  # "provided" or the file
    wall_steps: tuple[str, ...] = ()  # cameras covering these steps' devices go to a wall tour
    wall_cameras: Selection | None = None  # and these cameras

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)


# --- device state, as recorded and restored ----------------------------------------------------------


def touched_keys(action: Action) -> tuple[str, ...]:
    """The attributes an action changes (what is recorded before the mode touches a device)."""
    if action in NOT_RESTORABLE:
        return ("badges_deactivated", "temporary_access")
    keys = tuple(target_attributes(action, Params(level_percent=50, preset=1)))
    return keys


def recorded(action: Action, asset: Asset) -> dict[str, str]:
    """The device's current values of what `action` changes."""
    return {k: asset.attributes.get(k, "") for k in touched_keys(action)}


def restoring(action: Action, before: dict[str, str]) -> tuple[Action, Params] | None:
    """The action (and parameters) that gives back the state `before`, recorded before `action`
    was applied; None when no action can (a camera that was at no preset)."""
    match action:
        case Action.LIGHT_ON | Action.LIGHT_OFF | Action.LIGHT_DIM:
            mode, level = before.get("mode", ""), before.get("level_pct", "")
            if mode == "off":
                return Action.LIGHT_OFF, Params()
            if level.isdigit() and 1 <= int(level) < 100:
                return Action.LIGHT_DIM, Params(level_percent=int(level))
            return Action.LIGHT_ON, Params()
        case Action.SIGNAL_FLASHING | Action.SIGNAL_NORMAL:
            return (
                (Action.SIGNAL_FLASHING, Params())
                if before.get("mode") == "flashing"
                else (Action.SIGNAL_NORMAL, Params())
            )
        case Action.SIGNAL_BUS_PRIORITY_ON | Action.SIGNAL_BUS_PRIORITY_OFF:
            on = before.get("bus_priority") == "on"
            return (Action.SIGNAL_BUS_PRIORITY_ON if on else Action.SIGNAL_BUS_PRIORITY_OFF), Params()
        case Action.BOLLARD_RAISE | Action.BOLLARD_LOWER:
            low = before.get("position") in ("lowered", "lowering")
            return (Action.BOLLARD_LOWER if low else Action.BOLLARD_RAISE), Params()
        case Action.ACCESS_LOCK | Action.ACCESS_UNLOCK:
            locked = before.get("lock") == "locked"
            return (Action.ACCESS_LOCK if locked else Action.ACCESS_UNLOCK), Params()
        case Action.SENSOR_LOW_PRESSURE_THRESHOLD:
            pct = before.get("low_pressure_pct", "")
            ok = pct.isdigit() and 1 <= int(pct) <= 100
            return (Action.SENSOR_LOW_PRESSURE_THRESHOLD, Params(level_percent=int(pct))) if ok else None
        case Action.CAMERA_GOTO_PRESET:
            preset = before.get("preset", "")
            return (Action.CAMERA_GOTO_PRESET, Params(preset=int(preset))) if preset.isdigit() else None
    return None


def state_text(action: Action, values: dict[str, str]) -> str:
    """Recorded values in words ("dimmed to 70 %"), through the action that would produce them."""
    back = restoring(action, values)
    if back is None:
        return ", ".join(f"{k} {v or '(none)'}" for k, v in values.items())
    return describe(*back)


# --- selection ------------------------------------------------------------------------------------


def tags_of(asset: Asset) -> set[str]:
    return {t.strip() for t in asset.attributes.get("tags", "").split(",") if t.strip()}


def matches(sel: Selection, a: Asset) -> bool:
    """Whether `a` fits every criterion of `sel` except `near_*` (see `select`)."""
    if sel.kinds and a.kind not in sel.kinds:
        return False
    if sel.districts and a.district not in sel.districts:
        return False
    if sel.building_types and a.attributes.get("building_type") not in sel.building_types:
        return False
    if sel.tags and not tags_of(a) & set(sel.tags):
        return False
    return not (sel.asset_ids and a.id not in sel.asset_ids)


def select(sel: Selection, assets: list[Asset], districts: frozenset[str] | None) -> list[Asset]:
    """The assets `sel` names, within `districts` (None: the whole city). CPU work: call it from
    an executor for a whole city."""
    import numpy as np

    out = [a for a in assets if matches(sel, a) and (districts is None or a.district in districts)]
    if not sel.near_building_types or not out:
        return out
    anchors = [
        a
        for a in assets
        if a.kind is Kind.ACCESS_POINT and a.attributes.get("building_type") in sel.near_building_types
    ]
    if not anchors:
        return []
    alat = np.array([a.lat for a in anchors])
    alon = np.array([a.lon for a in anchors])
    lat = np.array([a.lat for a in out])[:, None]
    lon = np.array([a.lon for a in out])[:, None]
    dy = (lat - alat) * 111_320.0
    dx = (lon - alon) * 111_320.0 * math.cos(math.radians(float(alat.mean())))
    near = (dx * dx + dy * dy).min(axis=1) <= sel.near_m * sel.near_m
    return [a for a, ok in zip(out, near.tolist(), strict=True) if ok]


# --- loading ----------------------------------------------------------------------------------------


def load_modes(extra_dir: str | Path | None = None) -> list[ModeDef]:
    """The provided modes, then those of `extra_dir` (*.toml, sorted); raises ModeFileError with
    every problem of every file. Ids must be unique across all of them."""
    files = [(p, "provided") for p in sorted(PROVIDED_DIR.glob("*.toml"))]
    if extra_dir is not None:
        d = Path(extra_dir)
        if not d.is_dir():
            raise ModeFileError([f"{d}: not a directory of mode files"])
        files += [(p, str(p)) for p in sorted(d.glob("*.toml"))]
    problems: list[str] = []
    modes: list[ModeDef] = []
    seen: dict[str, str] = {}
    for path, source in files:
        try:
            mode = load_mode_file(path, source)
        except ModeFileError as exc:
            problems += exc.problems
            continue
        if mode.id in seen:
            problems.append(f"{path}: mode {mode.id!r}: id already used by {seen[mode.id]}")
            continue
        seen[mode.id] = str(path)
        modes.append(mode)
    if problems:
        raise ModeFileError(problems)
    return modes


def load_mode_file(path: str | Path, source: str | None = None) -> ModeDef:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModeFileError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModeFileError([f"{p}: not valid TOML: {exc}"]) from None
    return parse_mode(data, str(p), source or str(p))


def parse_mode(data: dict[str, Any], origin: str = "<mode>", source: str = "") -> ModeDef:
    """Validate one parsed mode file: a [mode] table and [[step]] tables."""
    problems: list[str] = []
    for key in sorted(set(data) - {"mode", "step"}):
        problems.append(f"{origin}: unknown top-level key {key!r}; expected [mode] and [[step]] tables")
    raw = data.get("mode")
    if not isinstance(raw, dict):
        raise ModeFileError([*problems, f"{origin}: no [mode] table"])
    mid = raw.get("id")
    where = f"{origin}: mode {mid!r}" if isinstance(mid, str) and mid else f"{origin}: mode (no id)"

    def fail(key: str, what: str) -> None:
        problems.append(f"{where}: key {key!r}: {what}")

    for key in ("id", "name"):
        if not (isinstance(raw.get(key), str) and raw[key].strip()):
            fail(key, "missing or not a non-empty string (required)")
    for key in sorted(set(raw) - set(MODE_KEYS)):
        fail(key, f"unknown key (allowed: {', '.join(MODE_KEYS)})")
    if isinstance(mid, str) and mid and not ID_RE.match(mid):
        fail("id", "use lower-case letters, digits, '_' or '-' (at most 64)")
    color = raw.get("color", "#c0392b")
    if not (isinstance(color, str) and COLOR_RE.match(color)):
        fail("color", f'must be "#RRGGBB", got {color!r}')
    description = raw.get("description", "")
    if not isinstance(description, str):
        fail("description", "must be a string")
    steps_raw = data.get("step", [])
    if not isinstance(steps_raw, list) or not all(isinstance(s, dict) for s in steps_raw):
        raise ModeFileError([*problems, f"{where}: 'step' must be an array of tables ([[step]])"])
    if not steps_raw:
        problems.append(f"{where}: no [[step]]: a mode needs at least one")
    if len(steps_raw) > MAX_STEPS:
        problems.append(f"{where}: {len(steps_raw)} steps (at most {MAX_STEPS})")
    steps: list[Step] = []
    names: set[str] = set()
    for index, s in enumerate(steps_raw, start=1):
        step = _parse_step(
            s,
            f"{where}: step #{index}" + (f" {s['name']!r}" if isinstance(s.get("name"), str) else ""),
            problems,
        )
        if step is None:
            continue
        if step.name in names:
            problems.append(f"{where}: step #{index} {step.name!r}: key 'name': used by another step")
            continue
        names.add(step.name)
        steps.append(step)
    wall_steps = raw.get("wall_steps", [])
    if not (isinstance(wall_steps, list) and all(isinstance(w, str) for w in wall_steps)):
        fail("wall_steps", "must be a list of step names")
        wall_steps = []
    for w in wall_steps:
        if w not in names and not any(f"{w!r}" in p for p in problems):
            fail("wall_steps", f"no step named {w!r}")
    wall_cameras = None
    if "wall_cameras" in raw:
        wall_cameras = _parse_selection(raw["wall_cameras"], f"{where}: key 'wall_cameras'", problems)
    if problems:
        raise ModeFileError(problems)
    return ModeDef(
        id=str(mid),
        name=raw["name"].strip(),
        description=description.strip(),
        color=color,
        steps=tuple(steps),
        source=source,
        wall_steps=tuple(wall_steps),
        wall_cameras=wall_cameras,
    )


def _parse_step(s: dict[str, Any], where: str, problems: list[str]) -> Step | None:
    before = len(problems)

    def fail(key: str, what: str) -> None:
        problems.append(f"{where}: key {key!r}: {what}")

    for key in sorted(set(s) - set(STEP_KEYS)):
        fail(key, f"unknown key (allowed: {', '.join(STEP_KEYS)})")
    name = s.get("name")
    if not (isinstance(name, str) and ID_RE.match(name)):
        fail("name", "missing, or not lower-case letters, digits, '_' or '-' (at most 64)")
    label = s.get("label", name if isinstance(name, str) else "")
    if not isinstance(label, str):
        fail("label", "must be a string")
    action = _action(s.get("action"), "action", fail)
    params, until_hours = _params(s.get("params", {}), "params", fail)
    if action is not None and params is not None:
        needed = ACTIONS[action].params
        probe = Params(**{**_fields(params), "until": 1e12}) if "until" in needed else params
        for why in check_params(action, probe, 0.0):
            fail("params", why)
        if "until" in needed and not 0 < until_hours <= 168:
            fail("params", f"{action.value} needs until_hours, 0 < hours <= 168")
    sel = _parse_selection(s.get("select"), f"{where}: key 'select'", problems)
    if sel is not None and action is not None:
        wrong = [k for k in sel.kinds if k not in ACTIONS[action].kinds]
        if wrong:
            fail("select", f"{action.value} does not fit kinds {', '.join(k.value for k in wrong)}")
        if not sel.kinds:
            sel = Selection(**{**_fields(sel), "kinds": ACTIONS[action].kinds})
    revert = s.get("revert", REVERT_PREVIOUS)
    revert_params = Params()
    if not isinstance(revert, str):
        fail("revert", 'must be "previous", "none" or an action name')
    elif revert == REVERT_PREVIOUS:
        if action in NOT_RESTORABLE:
            fail(
                "revert",
                f'{action.value} cannot be reverted to the previous state (no action undoes it): set revert = "none"',
            )
    elif revert != REVERT_NONE:
        back = _action(revert, "revert", fail)
        rp, _ = _params(s.get("revert_params", {}), "revert_params", fail)
        if back is not None and rp is not None:
            revert_params = rp
            for why in check_params(back, rp, 0.0):
                fail("revert_params", why)
            if action is not None and set(ACTIONS[back].kinds) != set(ACTIONS[action].kinds):
                fail("revert", f"{back.value} does not act on the devices {action.value} does")
    suppresses = s.get("suppresses", [])
    if not (
        isinstance(suppresses, list) and all(isinstance(c, str) and CAUSE_RE.match(c) for c in suppresses)
    ):
        fail("suppresses", "must be a list of alarm causes (lower-case letters, digits and '_')")
        suppresses = []
    if len(problems) > before or action is None or params is None or sel is None:
        return None
    return Step(
        name=str(name),
        label=str(label or name),
        action=action,
        params=params,
        selection=sel,
        revert=revert,
        revert_params=revert_params,
        suppresses=tuple(suppresses),
        until_hours=until_hours,
    )


def _fields(obj: Any) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in obj.__slots__}


def _action(value: Any, key: str, fail: Callable[[str, str], None]) -> Action | None:
    try:
        return Action(value)
    except ValueError:
        fail(key, f"unknown action {value!r} (one of {', '.join(a.value for a in Action)})")
        return None


def _params(raw: Any, key: str, fail: Callable[[str, str], None]) -> tuple[Params | None, float]:
    if not isinstance(raw, dict):
        fail(key, "must be a table, e.g. { level_percent = 30 }")
        return None, 0.0
    bad = sorted(set(raw) - set(PARAM_KEYS))
    if bad:
        fail(key, f"unknown parameter(s) {', '.join(map(repr, bad))} (allowed: {', '.join(PARAM_KEYS)})")
        return None, 0.0
    for k in ("level_percent", "preset"):
        if k in raw and (not isinstance(raw[k], int) or isinstance(raw[k], bool)):
            fail(key, f"{k} must be a whole number, got {raw[k]!r}")
            return None, 0.0
    if "badge_id" in raw and not isinstance(raw["badge_id"], str):
        fail(key, "badge_id must be a string")
        return None, 0.0
    hours = raw.get("until_hours", 0.0)
    if not isinstance(hours, int | float) or isinstance(hours, bool):
        fail(key, "until_hours must be a number")
        return None, 0.0
    return (
        Params(
            level_percent=raw.get("level_percent", 0),
            badge_id=raw.get("badge_id", ""),
            preset=raw.get("preset", 0),
        ),
        float(hours),
    )


def _parse_selection(raw: Any, where: str, problems: list[str]) -> Selection | None:
    if not isinstance(raw, dict):
        problems.append(f'{where}: missing or not a table, e.g. {{ kinds = ["street_light"] }}')
        return None
    before = len(problems)
    for key in sorted(set(raw) - set(SELECT_KEYS)):
        problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(SELECT_KEYS)})")
    lists: dict[str, tuple[str, ...]] = {}
    for key in SELECT_KEYS[:-1]:
        v = raw.get(key, [])
        if not (isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)):
            problems.append(f"{where}: {key} must be a list of non-empty strings")
            v = []
        lists[key] = tuple(x.strip() for x in v)
    kinds: list[Kind] = []
    for k in lists["kinds"]:
        try:
            kind = Kind(k)
        except ValueError:
            problems.append(f"{where}: unknown kind {k!r} (one of {', '.join(x.value for x in Kind)})")
            continue
        kinds.append(kind)
    near_m = raw.get("near_m", 0.0)
    if not isinstance(near_m, int | float) or isinstance(near_m, bool) or not 0 <= near_m <= MAX_NEAR_M:
        problems.append(f"{where}: near_m must be a number of metres, 0..{MAX_NEAR_M:g}")
        near_m = 0.0
    if lists["near_building_types"] and not near_m:
        problems.append(f"{where}: near_building_types needs near_m (metres)")
    if len(problems) > before:
        return None
    return Selection(
        kinds=tuple(kinds),
        districts=lists["districts"],
        building_types=lists["building_types"],
        tags=lists["tags"],
        asset_ids=lists["asset_ids"],
        near_building_types=lists["near_building_types"],
        near_m=float(near_m),
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """Whole city, or some districts."""

    whole_city: bool = False
    districts: tuple[str, ...] = field(default_factory=tuple)

    def text(self) -> str:
        return "whole city" if self.whole_city else ", ".join(self.districts)

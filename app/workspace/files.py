"""Workspace files: the JSON format (versioned, validated with the path of what is wrong) and where
they live: `platformdirs.user_config_dir("vigie")/workspaces/<slug>.json` for named workspaces, and
`last-workspace.json` beside that folder for the arrangement the console had when it last closed.
See docs/workspaces.md for every key.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from vigie.app.workspace.model import (
    ORIENTATIONS,
    PRESENTATION_CONTENTS,
    WINDOW_STATES,
    Floating,
    Node,
    Panel,
    Placement,
    Presentation,
    Rect,
    Screen,
    Split,
    Tabs,
    Window,
    Workspace,
    normalise,
    panel_ids,
)
from vigie.app.workspace.screens import current_role

log = logging.getLogger(__name__)

FORMAT_KEY = "vigie_workspace"  # its value is the format version
# 2: a screen's "presentation" (1 called it "wall") and roles `screen-3`... (1: `wall-1`...); 1 is read.
VERSION = 2


class WorkspaceError(ValueError):
    """A workspace file that cannot be used; the message says where and what."""


# ---- to JSON ----------------------------------------------------------------------------------


def node_to_json(node: Node | None) -> dict | None:
    if node is None:
        return None
    if isinstance(node, Tabs):
        return {"tabs": list(node.panels), "current": node.current or node.panels[0]}
    return {
        "split": node.orientation,
        "sizes": [round(s, 4) for s in node.sizes],
        "items": [node_to_json(i) for i in node.items],
    }


def _place_to_json(p: Placement) -> dict:
    return {
        "role": p.role,
        "screen": p.screen,
        "geometry": list(p.geometry) if p.geometry else None,
        "state": p.state,
    }


def to_json(ws: Workspace) -> dict:
    return {
        FORMAT_KEY: VERSION,
        "name": ws.name,
        "saved": ws.saved,
        "screens": [
            {
                "role": s.role,
                "name": s.name,
                "geometry": list(s.geometry) if s.geometry else None,
                "presentation": (
                    {"content": s.presentation.content, "state": s.presentation.state}
                    if s.presentation
                    else None
                ),
            }
            for s in ws.screens
        ],
        "windows": [
            {
                **_place_to_json(w.place),
                "docks": node_to_json(w.docks),
                "closed": list(w.closed),
                "floating": [{**_place_to_json(f.place), "docks": node_to_json(f.docks)} for f in w.floating],
            }
            for w in ws.windows
        ],
        "panels": {pid: {"kind": p.kind, "state": p.state} for pid, p in ws.panels.items()},
    }


def dumps(ws: Workspace) -> str:
    return json.dumps(to_json(ws), indent=2, ensure_ascii=False) + "\n"


# ---- from JSON --------------------------------------------------------------------------------


def _expect(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise WorkspaceError(f"{where}: {what}")


def _str(d: dict, key: str, where: str, default: str | None = None) -> str:
    v = d.get(key, default)
    _expect(isinstance(v, str), f"{where}.{key}", "expected a string")
    return v  # type: ignore[return-value]


def _rect(v: Any, where: str) -> Rect | None:
    if v is None:
        return None
    _expect(
        isinstance(v, list)
        and len(v) == 4
        and all(isinstance(n, int) and not isinstance(n, bool) for n in v),
        where,
        "expected [x, y, width, height] (integers) or null",
    )
    _expect(v[2] > 0 and v[3] > 0, where, "width and height must be positive")
    return (v[0], v[1], v[2], v[3])


def node_from_json(v: Any, where: str = "docks") -> Node | None:
    if v is None:
        return None
    _expect(isinstance(v, dict), where, "expected an object")
    if "tabs" in v:
        tabs = v["tabs"]
        _expect(
            isinstance(tabs, list) and bool(tabs) and all(isinstance(t, str) and t for t in tabs),
            f"{where}.tabs",
            "expected a non-empty list of panel ids",
        )
        current = v.get("current") or tabs[0]
        _expect(current in tabs, f"{where}.current", f"{current!r} is not one of the tabs")
        return Tabs(list(tabs), current)
    if "split" in v:
        _expect(v["split"] in ORIENTATIONS, f"{where}.split", f"expected one of {', '.join(ORIENTATIONS)}")
        items = v.get("items")
        _expect(isinstance(items, list) and bool(items), f"{where}.items", "expected a non-empty list")
        sizes = v.get("sizes", [1.0] * len(items))
        _expect(
            isinstance(sizes, list)
            and len(sizes) == len(items)
            and all(isinstance(s, (int, float)) and not isinstance(s, bool) and s >= 0 for s in sizes),
            f"{where}.sizes",
            "expected one non-negative number per item",
        )
        kept = [  # a null item is an empty area: dropped with its size, as normalise() would
            (node, size)
            for n, (item, size) in enumerate(zip(items, sizes, strict=True))
            if (node := node_from_json(item, f"{where}.items[{n}]")) is not None
        ]
        return Split(v["split"], [node for node, _ in kept], [size for _, size in kept])
    raise WorkspaceError(f"{where}: expected {{'tabs': [...]}} or {{'split': ..., 'items': [...]}}")


def _place(v: dict, where: str) -> Placement:
    state = v.get("state", "maximized")
    _expect(state in WINDOW_STATES, f"{where}.state", f"expected one of {', '.join(WINDOW_STATES)}")
    role = current_role(_str(v, "role", where))
    _expect(bool(role), f"{where}.role", "must not be empty")
    return Placement(role, _str(v, "screen", where, ""), _rect(v.get("geometry"), f"{where}.geometry"), state)


def from_json(data: Any) -> Workspace:
    """A workspace from its JSON form; WorkspaceError names the first thing wrong."""
    _expect(isinstance(data, dict), "workspace", "expected a JSON object")
    version = data.get(FORMAT_KEY)
    _expect(
        isinstance(version, int) and not isinstance(version, bool),
        FORMAT_KEY,
        "missing: not a Vigie workspace file",
    )
    _expect(version >= 1, FORMAT_KEY, f"unknown format version {version}")
    _expect(
        version <= VERSION,
        FORMAT_KEY,
        f"format {version} was written by a newer Vigie (this one reads up to {VERSION})",
    )
    name = _str(data, "name", "workspace").strip()
    _expect(bool(name), "name", "must not be empty")

    screens = []
    raw_screens = data.get("screens", [])
    _expect(isinstance(raw_screens, list), "screens", "expected a list")
    for i, s in enumerate(raw_screens):
        where = f"screens[{i}]"
        _expect(isinstance(s, dict), where, "expected an object")
        presentation = None
        key = "presentation" if "presentation" in s else "wall"  # "wall": format 1
        if s.get(key) is not None:
            w = s[key]
            _expect(isinstance(w, dict), f"{where}.{key}", "expected an object or null")
            _expect(
                w.get("content") in PRESENTATION_CONTENTS,
                f"{where}.{key}.content",
                f"expected one of {', '.join(PRESENTATION_CONTENTS)}",
            )
            state = w.get("state", {})
            _expect(isinstance(state, dict), f"{where}.{key}.state", "expected an object")
            presentation = Presentation(w["content"], state)
        role = current_role(_str(s, "role", where))
        _expect(bool(role), f"{where}.role", "must not be empty")
        screens.append(
            Screen(
                role, _str(s, "name", where, ""), _rect(s.get("geometry"), f"{where}.geometry"), presentation
            )
        )
    _expect(len({s.role for s in screens}) == len(screens), "screens", "a role is listed twice")

    windows = []
    raw_windows = data.get("windows", [])
    _expect(isinstance(raw_windows, list), "windows", "expected a list")
    for i, w in enumerate(raw_windows):
        where = f"windows[{i}]"
        _expect(isinstance(w, dict), where, "expected an object")
        closed = w.get("closed", [])
        _expect(
            isinstance(closed, list) and all(isinstance(c, str) for c in closed),
            f"{where}.closed",
            "expected a list of panel ids",
        )
        floating = []
        raw_floating = w.get("floating", [])
        _expect(isinstance(raw_floating, list), f"{where}.floating", "expected a list")
        for j, f in enumerate(raw_floating):
            fw = f"{where}.floating[{j}]"
            _expect(isinstance(f, dict), fw, "expected an object")
            docks = normalise(node_from_json(f.get("docks"), f"{fw}.docks"))
            _expect(docks is not None, f"{fw}.docks", "a floating container needs panels")
            floating.append(Floating(_place(f, fw), docks))  # type: ignore[arg-type]
        windows.append(
            Window(
                _place(w, where),
                normalise(node_from_json(w.get("docks"), f"{where}.docks")),
                list(closed),
                floating,
            )
        )
    _expect(len({w.place.role for w in windows}) == len(windows), "windows", "two windows have the same role")

    raw_panels = data.get("panels", {})
    _expect(isinstance(raw_panels, dict), "panels", "expected an object of panel id -> panel")
    panels = {}
    for pid, p in raw_panels.items():
        where = f"panels.{pid}"
        _expect(isinstance(p, dict), where, "expected an object")
        state = p.get("state", {})
        _expect(isinstance(state, dict), f"{where}.state", "expected an object")
        panels[pid] = Panel(_str(p, "kind", where), state)

    seen: set[str] = set()
    for i, w in enumerate(windows):
        used = [*panel_ids(w.docks), *w.closed, *(p for f in w.floating for p in panel_ids(f.docks))]
        for pid in used:
            _expect(pid in panels, f"windows[{i}]", f"panel {pid!r} is not described in panels")
            _expect(pid not in seen, f"windows[{i}]", f"panel {pid!r} is placed twice")
            seen.add(pid)
    return Workspace(name, screens, windows, panels, _str(data, "saved", "workspace", ""))


def loads(text: str) -> Workspace:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkspaceError(f"not JSON: {exc}") from exc
    return from_json(data)


# ---- files ------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """The file name of a workspace: lower case letters, digits and dashes."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s or "workspace"


def config_root() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("vigie"))


def _write(path: Path, text: str) -> None:
    """Write atomically: a crash mid-write never leaves half a workspace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WorkspaceStore:
    """Named workspaces and the last arrangement, as JSON files in the user's config directory."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or config_root()
        self.folder = self.root / "workspaces"
        self.last_path = self.root / "last-workspace.json"
        self._lock = threading.Lock()  # the autosave thread and the GUI thread never interleave writes

    def path_of(self, name: str) -> Path:
        return self.folder / f"{slug(name)}.json"

    def names(self) -> list[str]:
        """Names of the saved workspaces (files that cannot be read are skipped, with a warning)."""
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                out.append(loads(path.read_text(encoding="utf-8")).name)
            except (OSError, WorkspaceError) as exc:
                log.warning("skipping workspace file %s: %s", path, exc)
        return sorted(out, key=str.lower)

    def load(self, name: str) -> Workspace:
        path = self.path_of(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise WorkspaceError(f"no saved workspace named {name!r} ({path})") from None
        try:
            return loads(text)
        except WorkspaceError as exc:
            raise WorkspaceError(f"{path}: {exc}") from None

    def save(self, ws: Workspace) -> Path:
        ws.saved = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        path = self.path_of(ws.name)
        with self._lock:
            _write(path, dumps(ws))
        return path

    def load_last(self) -> Workspace | None:
        try:
            return loads(self.last_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, WorkspaceError) as exc:
            log.warning("ignoring %s: %s", self.last_path, exc)
            return None

    def save_last(self, text: str) -> None:
        """The console's arrangement as dumps() wrote it (safe to call from a worker thread)."""
        with self._lock:
            _write(self.last_path, text)

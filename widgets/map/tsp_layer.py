"""The map's signal-priority layer: junctions that just granted or denied transit priority (or are
preempted), drawn as rings at the junction with a short label, fading after `keep_s`.

Plain values in (`add_events`: dicts), one JSON message out (`tspChanged`: the junctions' latest
decisions, the whole set each time, at most `MAX_JUNCTIONS`), resent when the page (re)loads."""

from __future__ import annotations

import json
import time

from vigie.widgets.map.bridge import MapBridge

KEEP_S = 30.0
MAX_JUNCTIONS = 200


class TspLayer:
    def __init__(self, bridge: MapBridge, keep_s: float = KEEP_S) -> None:
        self.bridge = bridge
        self.keep_s = keep_s
        self.ready = False
        self.latest: dict[str, dict] = {}  # junction id -> its latest decision

    def add_events(self, events: list[dict]) -> None:
        """`events`: {junction_id, lat, lon, kind ("granted", "denied", "preemption_start",
        "preemption_end"), line, vehicle, text}; other kinds are ignored."""
        now = time.time()
        for e in events:
            if e.get("kind") not in ("granted", "denied", "preemption_start", "preemption_end"):
                continue
            if e["kind"] == "preemption_end":
                self.latest.pop(e["junction_id"], None)
                continue
            self.latest[e["junction_id"]] = dict(e, at=now)
        cutoff = now - self.keep_s
        self.latest = {
            k: v for k, v in self.latest.items() if v["at"] >= cutoff or v["kind"] == "preemption_start"
        }
        while len(self.latest) > MAX_JUNCTIONS:
            del self.latest[min(self.latest, key=lambda k: self.latest[k]["at"])]
        if self.ready:
            self._send()

    def on_ready(self) -> None:
        self.ready = True
        self._send()

    def on_reload(self) -> None:
        self.ready = False

    def _send(self) -> None:
        payload = {"junctions": list(self.latest.values()), "keep_s": self.keep_s}
        self.bridge.tspChanged.emit(json.dumps(payload, separators=(",", ":")))

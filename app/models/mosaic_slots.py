"""Which camera each mosaic slot holds, and where cameras go: Qt-free, so it is tested alone.

Slot i keeps its camera whatever the layout (the mosaic widget shows the same list: see
widgets/mosaic/mosaic.py); slots beyond the layout's size keep their camera but are hidden. The
placement rules (drops, "show in mosaic", an alarm's cameras, a fresh fill, a saved view) live
here; the mosaic controller (app/controllers/mosaic.py) applies them to the tiles and feeds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class MosaicSlots:
    def __init__(self, cameras: list[str]) -> None:
        """`cameras`: one entry per slot ("" for none). The list is shared, not copied: the
        mosaic widget reads the same one."""
        self.cameras = cameras

    def __len__(self) -> int:
        return len(self.cameras)

    def camera(self, slot: int) -> str:
        return self.cameras[slot]

    def assign(self, slot: int, camera_id: str) -> bool:
        """Put a camera ("" clears) in a slot; False when it was already there."""
        if self.cameras[slot] == camera_id:
            return False
        self.cameras[slot] = camera_id
        return True

    def slot_of(self, camera_id: str, among: Iterable[int] | None = None) -> int:
        """The first slot (of `among`, default all) holding `camera_id`, or -1."""
        slots = range(len(self.cameras)) if among is None else among
        return next((s for s in slots if camera_id and self.cameras[s] == camera_id), -1)

    def shown(self) -> set[str]:
        return {c for c in self.cameras if c}

    def is_empty(self) -> bool:
        return not any(self.cameras)

    # ---- placement rules: (slot, camera) pairs to apply, in order ---------------------------

    @staticmethod
    def drop_targets(slot: int, cameras: Sequence[str], visible: Sequence[int]) -> list[tuple[int, str]]:
        """Cameras dropped on a tile fill it and the visible tiles after it (from the first
        visible one when the drop slot is not visible)."""
        targets = [s for s in visible if s >= slot] or list(visible)
        return list(zip(targets, cameras, strict=False))

    @staticmethod
    def next_visible(slot: int, visible: Sequence[int]) -> int:
        """The visible slot after `slot` (wrapping), where the next "show in mosaic" goes."""
        if slot not in visible:
            return visible[0] if visible else 0
        return visible[(list(visible).index(slot) + 1) % len(visible)]

    def linked(self, cameras: Sequence[str], visible: Sequence[int]) -> list[tuple[int, str]]:
        """An alarm's cameras go in the first visible tiles; only the slots that change."""
        return [(s, c) for s, c in zip(visible, cameras, strict=False) if self.cameras[s] != c]

    @staticmethod
    def fill(candidates: Iterable[str], visible: Sequence[int], exclude: set[str]) -> list[tuple[int, str]]:
        """A fresh mosaic: the candidates (in order) no other mosaic shows, one per visible slot."""
        return list(zip(visible, (c for c in candidates if c not in exclude), strict=False))

    def view(self, cameras: Sequence[str]) -> list[tuple[int, str]]:
        """A saved view's cameras, slot by slot (missing slots clear); only the slots that change."""
        wanted = [cameras[s] if s < len(cameras) else "" for s in range(len(self.cameras))]
        return [(s, c) for s, c in enumerate(wanted) if self.cameras[s] != c]

"""The mosaic's slot-to-camera state and placement rules (app/models/mosaic_slots.py)."""

from __future__ import annotations

from vigie.app.models.mosaic_slots import MosaicSlots


def slots(*cams: str, size: int = 9) -> MosaicSlots:
    return MosaicSlots(list(cams) + [""] * (size - len(cams)))


def test_the_list_is_shared_with_its_owner() -> None:
    cams = ["", "", ""]
    s = MosaicSlots(cams)
    assert s.assign(1, "cam-1") and cams == ["", "cam-1", ""]
    assert not s.assign(1, "cam-1"), "the same camera again changes nothing"
    assert s.slot_of("cam-1") == 1 and s.slot_of("cam-9") == -1 and s.slot_of("") == -1
    assert s.slot_of("cam-1", among=[0, 2]) == -1
    assert s.shown() == {"cam-1"} and not s.is_empty()


def test_drops_fill_the_tile_and_the_visible_ones_after_it() -> None:
    assert MosaicSlots.drop_targets(1, ["a", "b", "c"], [0, 1, 2, 3]) == [(1, "a"), (2, "b"), (3, "c")]
    assert MosaicSlots.drop_targets(3, ["a", "b"], [0, 1, 2, 3]) == [(3, "a")], "no wrap-around"
    # Dropped on a hidden slot (a maximised tile elsewhere): the visible tiles take them.
    assert MosaicSlots.drop_targets(5, ["a", "b"], [2]) == [(2, "a")]


def test_show_in_mosaic_moves_on_to_the_next_visible_tile() -> None:
    assert MosaicSlots.next_visible(1, [0, 1, 2, 3]) == 2
    assert MosaicSlots.next_visible(3, [0, 1, 2, 3]) == 0
    assert MosaicSlots.next_visible(7, [0, 1, 2, 3]) == 0


def test_an_alarms_cameras_take_the_first_visible_tiles_changing_only_what_differs() -> None:
    s = slots("a", "x", "y")
    assert s.linked(["a", "b"], [0, 1, 2, 3]) == [(1, "b")]
    assert s.linked(["a", "b", "c"], [0]) == [], "a maximised tile that already shows the first one"


def test_a_fresh_fill_skips_what_other_mosaics_show() -> None:
    assert MosaicSlots.fill(["a", "b", "c", "d"], [0, 1], exclude={"a", "c"}) == [(0, "b"), (1, "d")]


def test_a_saved_view_sets_every_slot_and_clears_the_rest() -> None:
    s = slots("a", "b", "c", size=4)
    assert s.view(["a", "z"]) == [(1, "z"), (2, "")], "slot 3 was empty already"

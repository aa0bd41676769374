"""The asset table's row moves without a full sort (app/models/ordered_rows.py): rows cut out by
slices, and rows put back one by one with a binary search, land where a full sort puts them."""

from __future__ import annotations

import random

from vigie.app.models.ordered_rows import insert_sorted, without


def test_without_drops_the_given_positions_only():
    assert without(["a", "b", "c", "d", "e"], [0, 2, 4]) == ["b", "d"]
    assert without(["a", "b", "c"], []) == ["a", "b", "c"]
    assert without(["a", "b", "c"], [0, 1, 2]) == []


def test_insert_sorted_places_rows_as_a_full_sort_would():
    keys = [(0, "a"), (2, "c"), (4, "e")]
    rows = ["a", "c", "e"]
    arriving = [((5, "f"), "f"), ((1, "b"), "b"), ((-1, "z"), "z"), ((3, "d"), "d")]
    out_keys, out_rows = insert_sorted(keys, rows, arriving)
    assert out_rows == ["z", "a", "b", "c", "d", "e", "f"]
    assert out_keys == [(-1, "z"), (0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e"), (5, "f")]
    assert rows == ["a", "c", "e"], "the inputs are left as they were"


def test_insert_sorted_descending():
    keys = [(4, "e"), (2, "c"), (0, "a")]
    out_keys, out_rows = insert_sorted(
        keys, ["e", "c", "a"], [((3, "d"), "d"), ((9, "x"), "x"), ((-2, "y"), "y")], desc=True
    )
    assert out_rows == ["x", "e", "d", "c", "a", "y"]
    assert out_keys == [(9, "x"), (4, "e"), (3, "d"), (2, "c"), (0, "a"), (-2, "y")]


def test_insert_sorted_next_to_equal_leading_fields():
    """Status-sorted keys are (severity, name, id): rows of one status and name go by id."""
    keys = [(0, "Lamp", "l-1"), (0, "Lamp", "l-3"), (4, "Lamp", "l-4")]
    out_keys, out_rows = insert_sorted(keys, ["l-1", "l-3", "l-4"], [((0, "Lamp", "l-2"), "l-2")])
    assert out_rows == ["l-1", "l-2", "l-3", "l-4"]


def test_cut_and_insert_equals_a_full_sort_on_random_moves():
    rng = random.Random(7)
    for desc in (False, True):
        current = {f"id-{i:04d}": (rng.randrange(5), f"name {rng.randrange(50)}") for i in range(2000)}
        ordered = sorted(((k + (aid,), aid) for aid, k in current.items()), reverse=desc)
        keys, rows = [k for k, _ in ordered], [a for _, a in ordered]
        for _ in range(20):
            moving = rng.sample(sorted(current), rng.choice([1, 7, 300]))
            for aid in moving:
                current[aid] = (rng.randrange(5), current[aid][1])
            position = {aid: i for i, aid in enumerate(rows)}
            cuts = sorted(position[aid] for aid in moving)
            keys, rows = insert_sorted(
                without(keys, cuts), without(rows, cuts), [(current[a] + (a,), a) for a in moving], desc
            )
            expected = sorted(current, key=lambda a: current[a] + (a,), reverse=desc)
            assert rows == expected
            assert keys == [current[a] + (a,) for a in expected]

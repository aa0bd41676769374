"""The byte budget of streamed messages (backend/services/resumable.py): batches and snapshot
chunks split in order, each within the budget, and only the final chunk says `last`."""

from __future__ import annotations

from collections.abc import Sequence

from vigie.backend.services.resumable import fit, fitting, snapshot
from vigie.v1 import assets_pb2

BUDGET = 10_000


def chunk(names: Sequence[str], last: bool = False) -> assets_pb2.SnapshotChunk:
    return assets_pb2.SnapshotChunk(assets=[assets_pb2.Asset(id=n, name="n" * 900) for n in names], last=last)


def test_fit_splits_in_order_within_the_budget():
    names = [f"a{i}" for i in range(50)]  # ~46 KB in one message
    parts = fit(names, chunk, BUDGET)
    assert len(parts) > 4
    assert [n for items, _ in parts for n in items] == names
    assert all(msg.ByteSize() <= BUDGET for _, msg in parts)
    assert [[a.id for a in msg.assets] for _, msg in parts] == [list(items) for items, _ in parts]


def test_fit_keeps_a_small_batch_whole_and_never_splits_one_item():
    assert len(fit(["a", "b"], chunk, BUDGET)) == 1
    (only,) = fit(
        ["big"], lambda xs: assets_pb2.SnapshotChunk(assets=[assets_pb2.Asset(name="x" * 50_000)]), BUDGET
    )
    assert only[1].ByteSize() > BUDGET


def test_snapshot_marks_only_the_final_message_last():
    names = [f"a{i}" for i in range(25)]
    msgs = list(snapshot(names, 10, chunk, BUDGET))
    assert [m.last for m in msgs] == [False] * (len(msgs) - 1) + [True]
    assert [a.id for m in msgs for a in m.assets] == names
    assert all(m.ByteSize() <= BUDGET for m in msgs)
    assert [m.last for m in snapshot([], 10, chunk, BUDGET)] == [True]  # an empty snapshot: one message


def test_fitting_counts_the_items_of_one_page():
    assert fitting([3000, 3000, 3000, 3000], BUDGET) == 3
    assert fitting([50_000, 10], BUDGET) == 1  # a page always moves forward
    assert fitting([], BUDGET) == 0

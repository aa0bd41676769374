"""The console's live list of access decisions: newest first, bounded, and a decision a resumed
stream sends again is kept once."""

from __future__ import annotations

from vigie.app.models.cardholders import AccessEventLog, AccessEventRecord


def event(seq: int) -> AccessEventRecord:
    return AccessEventRecord(seq, 1000.0 + seq, "acc-001", "École", "École maternelle", "B-1", "p-1",
                             "Claire", "carers", seq % 2 == 0, "badge accepted")  # fmt: skip


def test_decisions_are_kept_newest_first_once_each_and_bounded():
    log = AccessEventLog(limit=5)
    assert [e.sequence for e in log.add([event(1), event(2), event(3)])] == [1, 2, 3]
    assert [e.sequence for e in log.add([event(2), event(3), event(4)])] == [4]  # the overlap: once
    assert [e.sequence for e in log.events()] == [4, 3, 2, 1]
    log.add([event(n) for n in range(5, 12)])
    assert [e.sequence for e in log.events()] == [11, 10, 9, 8, 7]
    log.reset()  # a new history (resync, new epoch): sequences start again
    assert log.events() == [] and [e.sequence for e in log.add([event(1)])] == [1]

"""The SQLite audit store: queued writes, reads that see every earlier record, filters, paging,
and a file that outlives the store."""

from __future__ import annotations

import asyncio

from vigie.backend.domain.audit import AuditEntry, join_targets
from vigie.backend.store.audit_sqlite import AuditQuery, AuditStore, decode_page_token, encode_page_token


def entry(i: int, **kw) -> AuditEntry:
    base = dict(
        user=f"u{i % 3}", console="c", action="login", target=f"t{i}", reason="", result="ok", time=1000.0 + i
    )
    return AuditEntry(**{**base, **kw})


def test_records_are_written_queried_and_kept(tmp_path):
    async def run() -> None:
        store = AuditStore(str(tmp_path))
        for i in range(10):
            store.record(entry(i))
        store.record(entry(10, action="alarm.acknowledge", reason="Fire DOOR", result="failed"))
        rows, total = await store.query(AuditQuery(limit=4))  # sees everything recorded before
        assert total == 11 and [r.entry.target for r in rows] == ["t10", "t9", "t8", "t7"]
        rows, total = await store.query(AuditQuery(before_id=rows[-1].id, limit=100))
        assert total == 11 and [r.entry.target for r in rows][:2] == ["t6", "t5"] and len(rows) == 7
        assert (await store.query(AuditQuery(user="u1")))[1] == 4
        assert (await store.query(AuditQuery(action_prefix="alarm")))[1] == 1
        assert (await store.query(AuditQuery(text="fire door")))[1] == 1
        assert (await store.query(AuditQuery(result="failed", start=1010.0, end=1011.0)))[1] == 1
        assert (await store.query(AuditQuery(start=1005.0)))[1] == 6
        await store.close()
        again = AuditStore(str(tmp_path))
        assert (await again.query(AuditQuery()))[1] == 11
        await again.close()

    asyncio.run(run())


def test_page_tokens_and_targets():
    assert decode_page_token(encode_page_token(42)) == 42
    for bad in ("", "garbage", encode_page_token(0), "YWxhcm06MQ=="):
        assert decode_page_token(bad) is None
    assert join_targets(["a", "b"]) == "a,b"
    assert join_targets([str(i) for i in range(510)]).endswith(",… (+10 more)")
    assert join_targets(["x" * 200_000] * 10) == ",".join(["x" * 128] * 10), "each id is cut: no huge record"

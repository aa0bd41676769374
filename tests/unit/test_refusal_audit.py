"""Refused calls are audited in fixed-size records aggregated per peer host: the first of a kind
at once, the rest as one summary per window, new connections (ports) of one host counted together,
and a bounded number of kinds per window whatever the number of peers."""

from __future__ import annotations

from vigie.backend.domain.audit import MemoryAuditSink
from vigie.backend.security.refusal_audit import MAX_KINDS, RefusalAudit


class Clock:
    """The aggregator's time source, moved by the test (windows of minutes, tested in no time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_record_at_once_then_one_summary_per_window_per_host():
    sink, clock = MemoryAuditSink(), Clock()
    audit = RefusalAudit(sink, window_s=60, clock=clock)
    for port in range(5000, 5100):  # 100 calls, each on a new connection of the same host
        audit.refused(
            f"ipv4:10.1.2.3:{port}", "", "", "command.execute", ["a" * 300, "b"], "why", "UNAUTHENTICATED: x"
        )
    assert [(e.target, e.reason) for e in sink.entries] == [("a" * 64 + ",b", "why")]
    clock.now += 59
    audit.flush()
    assert len(sink.entries) == 1  # the window is still open
    clock.now += 1
    audit.flush()
    assert len(sink.entries) == 2
    s = sink.entries[1]
    assert s.target == ",".join(["a" * 64, "b", "a" * 64]) and s.reason == ""  # 3 ids at most, each cut
    assert s.detail == "UNAUTHENTICATED: x (99 more refused calls from ipv4:10.1.2.3 within 60 s)"
    audit.refused("ipv4:10.1.2.3:6000", "", "", "command.execute", [], "", "UNAUTHENTICATED: x")
    assert len(sink.entries) == 3  # a new window: recorded at once again


def test_the_number_of_kinds_per_window_is_bounded():
    sink, clock = MemoryAuditSink(), Clock()
    audit = RefusalAudit(sink, window_s=60, clock=clock)
    for i in range(MAX_KINDS + 500):  # as many hosts as an attacker may have
        audit.refused(f"ipv6:[fd00::{i:x}]:1", "", "", "command.execute", ["x"], "", "UNAUTHENTICATED: x")
    assert len(sink.entries) == MAX_KINDS
    audit.flush(everything=True)
    assert len(sink.entries) == MAX_KINDS + 1
    assert sink.entries[-1].detail == "(500 more refused calls from (other peers) within 60 s)"

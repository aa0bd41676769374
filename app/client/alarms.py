"""The alarm service: the live alarm watch (same resume contract as the asset watch), the
operator's actions on alarms and the journal."""

from __future__ import annotations

from typing import Any

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.changefeed import ChangeFeed
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.streams import Resume
from vigie.app.client.types import JournalQuery
from vigie.v1 import alarms_pb2, alarms_pb2_grpc


class AlarmsClient(QObject):
    sig_snapshot = Signal(object, int)  # list[AlarmRecord] (every open alarm), sequence
    sig_changes = Signal(object, int)  # list[AlarmRecord] (latest per alarm), sequence
    sig_result = Signal(bool, str)  # an acknowledge/shelve/unshelve: done?, what happened
    sig_journal = Signal(object, int, str)  # list[AlarmRecord], total matching, next page token

    def __init__(self, core: ClientCore, flush_interval: float = 0.05) -> None:
        super().__init__()
        self.core = core
        self.flush_interval = flush_interval
        self.resume = Resume()  # sequence and epoch of what this console holds
        self.feed = ChangeFeed(
            self.resume, "alarm", "alarms", convert.alarm, self.sig_snapshot.emit, self.sig_changes.emit
        )
        core.on_start("alarms", self._watch)
        core.on_start("alarm-flush", lambda: self.feed.flush_every(self.flush_interval))

    # ---- operator actions (any thread) -----------------------------------------------------

    def acknowledge(self, alarm_ids: list[str], comment: str, operator: str) -> None:
        req = alarms_pb2.AcknowledgeRequest(alarm_ids=alarm_ids, comment=comment, operator=operator)
        self.core.submit(self._call("Acknowledge", req, f"{len(alarm_ids)} alarm(s) acknowledged"))

    def shelve(self, alarm_ids: list[str], seconds: float, reason: str, operator: str) -> None:
        req = alarms_pb2.ShelveRequest(
            alarm_ids=alarm_ids, duration=convert.shelve_duration(seconds), reason=reason, operator=operator
        )
        done = f"{len(alarm_ids)} alarm(s) shelved for {seconds / 60:.0f} min"
        self.core.submit(self._call("Shelve", req, done))

    def unshelve(self, alarm_ids: list[str], operator: str) -> None:
        req = alarms_pb2.UnshelveRequest(alarm_ids=alarm_ids, operator=operator)
        self.core.submit(self._call("Unshelve", req, f"{len(alarm_ids)} alarm(s) back from the shelf"))

    def query_journal(self, query: JournalQuery) -> None:
        """Search the alarm history; answered by sig_journal (or the core's sig_error)."""
        self.core.submit(self._journal(convert.journal_request(query)))

    def _stub(self) -> alarms_pb2_grpc.AlarmServiceStub:
        return self.core.stub(alarms_pb2_grpc.AlarmServiceStub)

    async def _call(self, method: str, request: Any, done: str) -> None:
        try:
            await getattr(self._stub(), method)(request, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"{method} refused: {self.core.describe(exc)}")
            return
        self.sig_result.emit(True, done)

    async def _journal(self, request: alarms_pb2.ListAlarmsRequest) -> None:
        try:
            resp = await self._stub().ListAlarms(request, timeout=UNARY_TIMEOUT * 2)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.core.sig_error.emit(f"Alarm journal: {self.core.describe(exc)}")
            return
        self.sig_journal.emit([convert.alarm(a) for a in resp.alarms], resp.total_size, resp.next_page_token)

    # ---- the alarm watch -------------------------------------------------------------------

    async def _open(self, resume: Resume) -> grpc.aio.UnaryStreamCall:
        self.feed.reset()
        return self._stub().WatchAlarms(
            alarms_pb2.WatchAlarmsRequest(after_sequence=resume.position, epoch=resume.epoch)
        )

    async def _watch(self) -> None:
        stream = self.core.stream("alarm watch", self._open, self.feed.feed)
        stream.resume = self.resume
        await stream.run()

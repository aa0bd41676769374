"""The audit service: pages of the audit trail, and the CSV export (written off the GUI thread)."""

from __future__ import annotations

import asyncio
import dataclasses

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client import convert
from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.types import AuditQuery
from vigie.app.models.audit import AuditRow, write_csv
from vigie.v1 import audit_pb2_grpc

EXPORT_PAGE = 5000


class AuditClient(QObject):
    sig_page = Signal(int, object, int, str)  # query tag, list[AuditRow], total matching, next page token
    sig_exported = Signal(str, int, str)  # path, rows written, error ("" when it worked)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core

    def query(self, query: AuditQuery, tag: int = 0) -> None:
        """One page of the audit trail; answered by sig_page with the same tag."""
        self.core.submit(self._page(query, tag))

    def export(self, query: AuditQuery, path: str) -> None:
        """Every record matching `query`, written as CSV to `path`; answered by sig_exported."""
        self.core.submit(self._export(query, path))

    def _stub(self) -> audit_pb2_grpc.AuditServiceStub:
        return self.core.stub(audit_pb2_grpc.AuditServiceStub)

    async def _page(self, query: AuditQuery, tag: int) -> None:
        try:
            resp = await self._stub().ListAudit(convert.audit_request(query), timeout=UNARY_TIMEOUT * 2)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.core.sig_error.emit(f"Audit trail: {self.core.describe(exc)}")
            return
        self.sig_page.emit(
            tag, [convert.audit_row(r) for r in resp.records], resp.total_size, resp.next_page_token
        )

    async def _export(self, query: AuditQuery, path: str) -> None:
        rows: list[AuditRow] = []
        req = convert.audit_request(dataclasses.replace(query, page_size=EXPORT_PAGE, page_token=""))
        try:
            while True:
                resp = await self._stub().ListAudit(req, timeout=UNARY_TIMEOUT * 4)
                rows.extend(convert.audit_row(r) for r in resp.records)
                if not resp.next_page_token:
                    break
                req.page_token = resp.next_page_token
            await asyncio.to_thread(write_csv, path, rows)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_exported.emit(path, 0, self.core.describe(exc))
            return
        except OSError as exc:
            self.sig_exported.emit(path, 0, f"cannot write {path}: {exc.strerror}")
            return
        self.sig_exported.emit(path, len(rows), "")

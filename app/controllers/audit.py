"""Feeds the audit view: filters -> ListAudit pages -> the table; CSV export through the session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from vigie.app.client.session import Session
from vigie.app.client.types import AuditQuery
from vigie.app.models.audit import AuditTableModel, target_ids
from vigie.widgets.audit.audit_view import AuditView

PAGE = 200


def audit_query(filters: dict[str, Any]) -> AuditQuery:
    return AuditQuery(
        user=filters.get("user", ""),
        action=filters.get("action", ""),
        result=filters.get("result", ""),
        text=filters.get("text", ""),
        start=float(filters.get("start") or 0),
        end=float(filters.get("end") or 0),
        page_size=PAGE,
    )


class AuditController(QObject):
    """`open_target(action, id)`: what a double-click on a record opens (the console sets it: the
    asset's detail and map, the alarm, the wall); `model.name_of` names the targets."""

    sig_message = Signal(str)

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = AuditTableModel(self)
        self.view = AuditView(self.model)
        self._tag = 0  # answers to an older query are dropped
        self._next = ""
        self._appending = False
        self._request = audit_query({})
        self.view.sig_query.connect(self.query)
        self.view.sig_more.connect(self.more)
        self.view.sig_export.connect(self.export)
        self.view.sig_open.connect(self.open_row)
        self.open_target: Callable[[str, str], bool] = lambda _action, _id: False
        session.audit.sig_page.connect(self._on_page)
        session.audit.sig_exported.connect(self._on_exported)

    def query(self, filters: dict[str, Any] | None = None) -> None:
        self._request = audit_query(filters if filters is not None else self.view.filters())
        self._next = ""  # a "Load more" of the previous search must not add to this one
        self._tag += 1
        self._appending = False
        self.session.audit.query(self._request, self._tag)

    def more(self) -> None:
        if not self._next:
            return
        query = self._request.next_page(self._next)
        self._next = ""  # asked once: a double click does not add the page twice
        self._appending = True
        self.session.audit.query(query, self._tag)

    def _on_page(self, tag: int, rows: list, total: int, next_token: str) -> None:
        if tag != self._tag:
            return
        if self._appending:
            self.model.append(rows, total)
        else:
            self.model.replace(rows, total)
        self._next = next_token
        self.view.set_page_info(len(self.model.rows), total, bool(next_token))

    def open_row(self, row: int) -> None:
        """Double-click: open the first thing the record touched that the console can show."""
        if not 0 <= row < len(self.model.rows):
            return
        r = self.model.rows[row]
        if not any(self.open_target(r.action, i) for i in target_ids(r.target)):
            self.sig_message.emit(f"Nothing to open for {r.action} on {r.target or 'no target'}")

    def export(self, path: str, filters: dict[str, Any]) -> None:
        self.session.audit.export(audit_query(filters), path)

    def _on_exported(self, path: str, count: int, error: str) -> None:
        msg = f"Audit export failed: {error}" if error else f"{count} audit records written to {path}"
        self.view.summary.setText(msg)
        self.sig_message.emit(msg)

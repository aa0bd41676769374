"""Drag and drop between views: dragged assets travel as their ids under one MIME type."""

from __future__ import annotations

from PySide6.QtCore import QMimeData

ASSET_MIME = "application/x-vigie-asset-ids"  # newline-separated asset ids


def asset_mime(ids: list[str]) -> QMimeData:
    mime = QMimeData()
    mime.setData(ASSET_MIME, "\n".join(ids).encode())
    mime.setText(", ".join(ids))
    return mime


def asset_ids(mime: QMimeData) -> list[str]:
    if mime.hasFormat(ASSET_MIME):
        return [s for s in bytes(mime.data(ASSET_MIME).data()).decode().split("\n") if s]
    return []

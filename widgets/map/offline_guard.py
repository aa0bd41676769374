"""Keeps the map page offline: every request outside the app is blocked and recorded.

Allowed: the page's own files, Qt's built-in resources, data/blob URLs, MBTiles tiles, and the
host of a tile server the operator configured. Anything else (a CDN, a font service) is a bug in
the page or the data; tests assert that nothing was blocked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import QObject
from PySide6.QtWebEngineCore import QWebEngineUrlRequestInfo, QWebEngineUrlRequestInterceptor

LOCAL_SCHEMES = {"file", "qrc", "data", "blob", "vigie-mbtiles"}


class OfflineGuard(QWebEngineUrlRequestInterceptor):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.allowed_hosts: set[str] = set()
        self.blocked: list[str] = []
        self.requests = 0

    def allow_tile_server(self, url_template: str) -> None:
        host = urlsplit(url_template.replace("{s}", "a")).hostname
        if host:
            self.allowed_hosts.add(host)

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:
        self.requests += 1
        url = info.requestUrl()
        if url.scheme() in LOCAL_SCHEMES or url.host() in self.allowed_hosts:
            return
        self.blocked.append(url.toString())
        info.block(True)

"""A minimal Chrome DevTools protocol client over QtWebEngine's remote debugging port
(QTWEBENGINE_REMOTE_DEBUGGING=127.0.0.1:PORT), for the map page's JS heap and DOM counters.

The websocket is spoken with the standard library (RFC 6455: the handshake, masked client text
frames, unmasked server frames): about 60 lines, so the bench needs no extra dependency."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import urllib.request
from urllib.parse import urlparse


def targets(port: int, timeout: float = 5.0) -> list[dict]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
        return json.loads(r.read().decode())


def find_page(port: int, url_part: str) -> str | None:
    """The websocket address of the first page whose URL contains `url_part`."""
    for t in targets(port):
        if t.get("type") == "page" and url_part in t.get("url", "") and t.get("webSocketDebuggerUrl"):
            return str(t["webSocketDebuggerUrl"])
    return None


class DevTools:
    """One websocket to one page; call() sends a command and returns its result."""

    def __init__(self, ws_url: str, timeout: float = 10.0) -> None:
        u = urlparse(ws_url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"DevTools refused the websocket: {head.splitlines()[0]!r}")
        self._next_id = 0

    def close(self) -> None:
        self.sock.close()

    def _send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            buf += chunk
        return buf

    def _recv(self) -> str:
        """One whole text message (continuation frames joined; pings answered)."""
        parts: list[bytes] = []
        while True:
            b0, b1 = self._exact(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else b""
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if op == 0x8:
                raise ConnectionError("DevTools closed the websocket")
            if op == 0x9:  # ping: answer with a (masked) pong
                self.sock.sendall(struct.pack("!BB", 0x8A, 0x80 | n) + b"\0\0\0\0" + payload)
                continue
            if op in (0x1, 0x0):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def call(self, method: str, **params: object) -> dict:
        self._next_id += 1
        mid = self._next_id
        self._send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:  # events of enabled domains may come first
            msg = json.loads(self._recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))


def page_memory(port: int, url_part: str = "map") -> dict[str, float]:
    """The page's JS heap (used, total, embedder) and DOM counters, in bytes and counts; {} when
    the page is not there (yet)."""
    ws = find_page(port, url_part)
    if ws is None:
        return {}
    dt = DevTools(ws)
    try:
        heap = dt.call("Runtime.getHeapUsage")
        dom = dt.call("Memory.getDOMCounters")
        # The page's own garbage collections (resources/map/map.js, with --expose-gc).
        perf = dt.call(
            "Runtime.evaluate",
            expression="window.vigieMap ? window.vigieMap.perf() : {}",
            returnByValue=True,
        )
    finally:
        dt.close()
    out = {"js_heap_used": float(heap.get("usedSize", 0)), "js_heap_total": float(heap.get("totalSize", 0))}
    if "embedderHeapUsedSize" in heap:
        out["js_embedder_heap"] = float(heap["embedderHeapUsedSize"])
    if "backingStorageSize" in heap:
        out["js_backing_store"] = float(heap["backingStorageSize"])
    value = perf.get("result", {}).get("value") or {}
    for k in ("gcCount", "gcMs"):
        if isinstance(value.get(k), (int, float)):
            out[f"page_{k}"] = float(value[k])
    for k in ("documents", "nodes", "jsEventListeners"):
        if k in dom:
            out[f"dom_{k}"] = float(dom[k])
    return out

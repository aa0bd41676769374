"""The backend's log lines: text (the default) or one JSON object per line (`--log-format
json`), each carrying the request id, method, user and console of the RPC it was written in.

Secrets never reach a line: every message passes through `redact_line` (URLs lose their
passwords and credential-like parameters, `Bearer ...` and `password=...` lose their values)
as a safety net under the code's own care; tests/api/conftest.py checks every line of the API
tests against the passwords, tokens and camera credentials they use."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from typing import Any, TextIO

from vigie.backend.adapters.cameras.catalogue import redact_text
from vigie.backend.security import principal

_request_id: ContextVar[str] = ContextVar("vigie_request_id", default="")
_method: ContextVar[str] = ContextVar("vigie_method", default="")

BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
SECRET_FIELD = re.compile(r"(?i)\b(password|passwd|token|secret)(['\"]?\s*[:=]\s*['\"]?)[^\s'\",;&]+")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(rpc)s"


def start_request(request_id: str, method: str) -> None:
    """Names the RPC the current task serves (called by the interceptor)."""
    _request_id.set(request_id)
    _method.set(method)


def redact_line(text: str) -> str:
    return SECRET_FIELD.sub(r"\1\2***", BEARER.sub(r"\1***", redact_text(text)))


class RequestContext(logging.Filter):
    """Adds request_id, method, user, console (empty outside an RPC) and redacts the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.method = _method.get()
        who = principal.current()
        inside = bool(record.request_id)
        known = inside and who is not principal.ANONYMOUS  # before authorisation: nobody yet
        record.user = who.user if known else ""
        record.console = who.console if known else ""
        record.rpc = (
            f" [{record.request_id} {record.method} {record.user}@{record.console}]" if inside else ""
        )
        message = record.getMessage()
        clean = redact_line(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_line(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "method", "user", "console"):
            value = getattr(record, key, "")
            if value:
                out[key] = value
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = redact_line(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False)


def setup(
    level: str = "INFO", fmt: str = "text", file: str | None = None, stream: TextIO = sys.stderr
) -> None:
    """Configures the root logger once: `fmt` "text" or "json", to `stream` and, when given,
    appended to `file` (created 0600: log lines name users and devices)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(stream)]
    if file:
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handlers.append(logging.FileHandler(file, mode="a", encoding="utf-8"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        handler.addFilter(RequestContext())
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())

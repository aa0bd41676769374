"""--log-format json: one JSON object per line with the request's id, method, user and console,
and no secret in the message or the traceback (the redaction safety net)."""

from __future__ import annotations

import contextvars
import io
import json
import logging

from vigie.backend.observability import logs
from vigie.backend.security import principal
from vigie.backend.security.principal import Principal, Role


def log_inside_a_request() -> None:
    principal.set_current(Principal("alice", Role.OPERATOR, "desk-3"))
    logs.start_request("req-42", "/vigie.v1.AlarmService/Acknowledge")
    try:
        raise ValueError("bad url rtsp://cam:hunter2@10.0.0.9/live?token=tok42")
    except ValueError:
        logging.getLogger("vigie.test").exception("sent Bearer abcdefghijkl1234 password=s3cr3t")


def test_json_lines_carry_the_request_and_no_secret():
    out = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.setup("INFO", "json", stream=out)
        logging.getLogger("outside").info("no request here")
        contextvars.copy_context().run(log_inside_a_request)  # the request's context ends with it
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    first, second = (json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{"))
    assert first["message"] == "no request here" and "request_id" not in first
    assert second["request_id"] == "req-42"
    assert second["method"] == "/vigie.v1.AlarmService/Acknowledge"
    assert (second["user"], second["console"], second["level"]) == ("alice", "desk-3", "ERROR")
    text = out.getvalue()
    for secret in ("hunter2", "tok42", "abcdefghijkl1234", "s3cr3t"):
        assert secret not in text
    assert "ValueError" in second["exception"]

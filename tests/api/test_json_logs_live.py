"""--log-format json on a real backend: the lines written while serving an RPC carry that RPC's
request id (the caller's x-request-id), method, user and console, so one request can be
followed through the logs; every line is one JSON object."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import grpc
import pytest

from tests.conftest import login, open_channel
from vigie.v1 import audit_pb2, audit_pb2_grpc


def test_json_lines_name_the_request(make_backend):
    log_file = Path(tempfile.mkdtemp(prefix="vigie-test-logs-")) / "json.log"
    # --log-file beats VIGIE_BACKEND_LOG_FILE (the API suite's scan): flags win over the environment.
    b = make_backend(
        "--lights",
        "0",
        "--vehicles",
        "0",
        "--quiet-city",
        "--log-format",
        "json",
        "--log-level",
        "DEBUG",
        "--log-file",
        str(log_file),
    ).start()
    token = login(b.address, "viewer").token
    with open_channel(b.address, user=None) as ch:
        denied = audit_pb2_grpc.AuditServiceStub(ch).ListAudit
        with pytest.raises(grpc.RpcError) as err:
            denied(
                audit_pb2.ListAuditRequest(),
                metadata=[
                    ("authorization", f"Bearer {token}"),
                    ("x-vigie-console", "desk-7"),
                    ("x-request-id", "trace-me-42"),
                ],
                timeout=10,
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    deadline = time.monotonic() + 20
    while True:
        lines = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
        mine = [x for x in lines if x.get("request_id") == "trace-me-42"]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert mine, lines[-5:]
    assert mine[0]["method"] == "/vigie.v1.AuditService/ListAudit"
    assert "needs role SUPERVISOR" in mine[0]["message"]
    assert token not in log_file.read_text()

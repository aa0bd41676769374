"""The backend with its authorisation interceptor left out, for bench/command_bench.py only: the
same server code, so the difference in latency is the interceptor's cost. Never a way to run a
backend: it refuses to start unless it finds and removes exactly the interceptor it is meant to."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc

from vigie.backend.cli import main
from vigie.backend.security.interceptor import AuthInterceptor

_server = grpc.aio.server


def server_without_auth(*args: Any, interceptors: Any = None, **kwargs: Any) -> grpc.aio.Server:
    given = list(interceptors or [])
    kept = [i for i in given if not isinstance(i, AuthInterceptor)]
    if len(kept) != len(given) - 1:
        raise SystemExit("no_auth_backend: the AuthInterceptor was not found; nothing would be measured")
    return _server(*args, interceptors=kept, **kwargs)


grpc.aio.server = server_without_auth  # this process only (a benchmark's child process)
print("no_auth_backend: authorisation interceptor OFF (benchmark only)", file=sys.stderr, flush=True)
sys.exit(main())

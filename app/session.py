"""Kept for the callers that import `Session` from here (the command line, the benchmarks and
tests): the client layer is the app/client package."""

from vigie.app.client.session import Session

__all__ = ["Session"]

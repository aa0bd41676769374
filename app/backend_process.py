"""Runs the backend as a child process for `vigie demo` (a process, not a thread: the simulator
never competes with the GUI for the interpreter). It stops with the console: on a clean exit we
terminate it, and if the console dies its stdin pipe closes and the backend exits by itself."""

from __future__ import annotations

import socket
import subprocess
import sys


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BackendProcess:
    def __init__(self, extra_args: list[str] | None = None, port: int | None = None) -> None:
        self.port = port or free_loopback_port()
        self.address = f"127.0.0.1:{self.port}"
        self.args = [
            sys.executable,
            "-m",
            "vigie.backend",
            "--listen",
            self.address,
            "--stop-on-stdin-eof",
            *(extra_args or []),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # stdout is not read: the console connects (and retries) on its own.
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

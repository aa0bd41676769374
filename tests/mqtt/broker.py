"""A real mosquitto on a free loopback port, with persistence (as docs/devices.md asks of a
production broker), restartable on the same port and data directory."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.fixtures.servers import free_port, missing_server

NOT_INSTALLED = "mosquitto not installed: apt-get install mosquitto"


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


class Mosquitto:
    def __init__(self, port: int = 0) -> None:
        binary = mosquitto_binary()
        if binary is None:
            missing_server(NOT_INSTALLED)  # skips, or fails under CI (VIGIE_REQUIRE_SERVERS=1)
        self.binary = binary
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vigie-mosquitto-"))
        self.log = self.dir / "mosquitto.log"
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Started as root, mosquitto becomes the user "mosquitto", who cannot write our private
            # temporary directory: stay who we are, so persistence and the log work.
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "max_queued_messages 0\n"  # no limit: a backend away for a while gets everything
            "max_inflight_messages 200\n"
            f"log_dest file {self.log}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Mosquitto:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)  # polling a port that is not open yet, under a deadline
        self.kill()
        raise TimeoutError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        """A clean stop: mosquitto writes its persistence file (sessions, queued and retained messages)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

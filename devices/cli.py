"""vigie-devices: run the simulated city as MQTT devices (docs/devices.md).

vigie-devices --broker mqtt://127.0.0.1:1883 --connections 8
vigie-devices --write-registry devices.json     # the devices file for vigie-backend --devices-file
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading

from vigie.backend.adapters.mqtt.registry import registry_entry
from vigie.backend.adapters.mqtt.wire import broker_address

READY_PREFIX = "VIGIE_DEVICES_READY"  # printed once every connection is up and the first states are out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vigie-devices", description=__doc__.split("\n")[0])
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", help="mqtt://HOST:PORT of the broker")
    p.add_argument("--connections", type=int, default=8, help="client connections the devices share (1-1000)")
    p.add_argument("--client-prefix", default="vigie-devices", help="client ids are PREFIX-0, PREFIX-1...")
    p.add_argument("--seed", type=int, default=1, help="the same seed gives the same city (as vigie-backend)")
    p.add_argument("--lights", type=int, default=5000, help="number of street lights (0-50000)")
    p.add_argument("--vehicles", type=int, default=60, help="municipal vehicles (0-1000)")
    p.add_argument("--change-rate", type=float, default=0.0, help="extra state changes per second (load)")
    p.add_argument(
        "--change-kind", choices=["seen", "status"], default="seen", help="what --change-rate changes"
    )
    p.add_argument("--quiet-city", action="store_true", help="devices change only when commanded (tests)")
    p.add_argument("--command-failure-rate", type=float, default=0.03, help="share of commands devices fail")
    p.add_argument("--badge-rate", type=float, default=0.5, help="badges presented at doors per second")
    p.add_argument(
        "--telemetry-interval",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="each device with metrics sends its values once per this many seconds (0: never)",
    )
    p.add_argument("--write-registry", metavar="FILE", help="write the city's devices file, then exit")
    p.add_argument("--stop-on-stdin-eof", action="store_true", help="exit when standard input closes")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    try:
        args.host, args.port = broker_address(args.broker)
    except ValueError as exc:
        p.error(f"--broker: {exc}")
    if not 1 <= args.connections <= 1000:
        p.error("--connections must be between 1 and 1000")
    if not 0 <= args.lights <= 50_000:
        p.error("--lights must be between 0 and 50000")
    if not 0 <= args.vehicles <= 1000:
        p.error("--vehicles must be between 0 and 1000")
    if args.change_rate < 0 or args.telemetry_interval < 0 or args.badge_rate < 0:
        p.error("--change-rate, --telemetry-interval and --badge-rate must not be negative")
    if not 0 <= args.command_failure_rate <= 1:
        p.error("--command-failure-rate must be between 0 and 1")
    return args


def make_simulator(args: argparse.Namespace):
    from vigie.backend.adapters.simulator import CitySimulator

    return CitySimulator(
        seed=args.seed,
        lights=args.lights,
        vehicles=args.vehicles,
        change_rate=args.change_rate,
        churn_status=args.change_kind == "status",
        events=not args.quiet_city,
        command_failure_rate=args.command_failure_rate,
        badge_rate=args.badge_rate,
    )


def write_registry(path: str, sim) -> None:
    """The city's devices file, written privately and durably (temp file, fsync, rename)."""
    from vigie.backend.store.files import FILE_MODE, fsync_dir

    doc = {"devices": [registry_entry(a) for a in sim.city.assets]}
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))


async def run(args: argparse.Namespace) -> None:
    from vigie.devices.city import CityDevices

    devices = CityDevices(
        args.host,
        args.port,
        make_simulator(args),
        connections=args.connections,
        client_prefix=args.client_prefix,
        telemetry_interval_s=args.telemetry_interval,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.stop_on_stdin_eof:

        def wait_eof() -> None:
            while os.read(0, 4096):
                pass
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_eof, name="stdin-eof", daemon=True).start()
    await devices.start()
    ready = False
    while not stop.is_set():
        if not ready and devices.ready():
            ready = True
            print(f"{READY_PREFIX} {devices.device_count}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    await devices.stop()
    logging.info("devices stopped: %s", dict(devices.counts))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.write_registry:
        try:
            write_registry(args.write_registry, make_simulator(args))
        except OSError as exc:
            print(f"vigie-devices: cannot write {args.write_registry}: {exc}", file=sys.stderr)
            return 1
        return 0
    asyncio.run(run(args))
    return 0

"""vigie-backend: serve a device network (the simulated city by default) over gRPC.

Also `vigie-backend backup DEST`, `vigie-backend restore SRC` and `vigie-backend health`
(docs/deployment.md)."""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import ipaddress
import logging
import os
import signal
import sys
import threading

import grpc

from vigie.backend import config
from vigie.backend.adapters.base import DeviceNetwork
from vigie.backend.domain.walls import MAX_WALLS, InvalidContent, check_allowed, check_name
from vigie.backend.observability.metrics import version
from vigie.backend.observability.task_dump import format_tasks
from vigie.backend.recording.system import RecordingConfig
from vigie.backend.security.principal import Role
from vigie.backend.server import Backend
from vigie.backend.store.sql import database

READY_PREFIX = "VIGIE_BACKEND_LISTENING"  # the line a parent process may wait for (see tests/conftest.py)
METRICS_PREFIX = "VIGIE_BACKEND_METRICS"  # printed before READY_PREFIX with --metrics: where they are


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vigie-backend", description=__doc__)
    p.add_argument(
        "--listen", default="127.0.0.1:50051", help="HOST:PORT to serve on (port 0: pick a free one)"
    )
    p.add_argument("--seed", type=int, default=1, help="simulator seed: the same seed gives the same city")
    p.add_argument("--lights", type=int, default=5000, help="number of street lights (up to 50000)")
    p.add_argument(
        "--vehicles", type=int, default=60, help="municipal vehicles, a third of them police (0-1000)"
    )
    p.add_argument(
        "--history", type=int, default=200_000, help="asset changes kept for clients to resume from"
    )
    p.add_argument(
        "--alarm-history",
        type=int,
        default=100_000,
        help="alarm changes kept (in memory and on disk) for clients to resume from (~0.65 KB each)",
    )
    p.add_argument(
        "--change-rate", type=float, default=0.0, help="extra asset changes per second (benchmarks)"
    )
    p.add_argument(
        "--change-kind",
        choices=["seen", "status"],
        default="seen",
        help="what --change-rate changes: report times, or statuses (OK <-> WARNING, like flapping sensors)",
    )
    p.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats on quiet streams")
    p.add_argument(
        "--stop-on-stdin-eof", action="store_true", help="exit when standard input closes (used by the demo)"
    )
    p.add_argument(
        "--cameras",
        metavar="FILE",
        help="TOML catalogue of real cameras (RTSP, HTTP MJPEG, video files) served beside the simulator",
    )
    p.add_argument(
        "--no-simulator",
        action="store_true",
        help="serve only the --cameras catalogue, without the simulated city",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="directory for persistent state (alarms.sqlite3, users.sqlite3, audit.sqlite3);"
        " default: the user data dir for vigie",
    )
    p.add_argument(
        "--db",
        default="",
        metavar="postgresql://USER@HOST:PORT/DB",
        help="keep the audit trail, users and incidents in this PostgreSQL database instead of"
        " SQLite files in --data-dir (which still holds the rest); a password is better given in"
        " PGPASSWORD or ~/.pgpass than in the URL (docs/deployment.md)",
    )
    p.add_argument(
        "--alarm-rate",
        type=float,
        default=0.0,
        help="extra synthetic alarms per second on random devices, each clearing after 5-60 s (benchmarks)",
    )
    p.add_argument(
        "--command-failure-rate",
        type=float,
        default=0.03,
        help="share of commands the simulated devices fail (refuse, or a bollard jams), seeded (0-1)",
    )
    p.add_argument(
        "--command-ack-timeout",
        type=float,
        default=5.0,
        help="seconds a device may take to acknowledge a command before it is TIMED_OUT",
    )
    p.add_argument(
        "--modes",
        metavar="DIR",
        help="a directory of city mode files (*.toml, docs/modes.md) added to the provided ones",
    )
    p.add_argument(
        "--badge-rate",
        type=float,
        default=0.5,
        help="badges the simulated people present at doors per second, city-wide (0: none)",
    )
    p.add_argument(
        "--no-transit",
        action="store_true",
        help="no buses, trams or health shuttles in the simulated city (docs/transport.md; --quiet-city has none either)",
    )
    p.add_argument(
        "--transit-speed",
        type=float,
        default=1.0,
        help="simulated seconds of transit per real second (0.1..1000; faster for tests and benchmarks)",
    )
    p.add_argument(
        "--quiet-city",
        action="store_true",
        help="simulated devices change only when commanded: no spontaneous faults, recoveries, "
        "bollard or door operation, periodic reports (tests)",
    )
    p.add_argument(
        "--incident-rate",
        type=float,
        default=None,
        metavar="PER_DAY",
        help="incidents a day the simulated city opens and dispatches by itself (default 500; 0 with"
        " --quiet-city)",
    )
    p.add_argument(
        "--dispatch-speedup",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="simulated crews drive this many times faster than road speed and work this many times"
        " faster (default 1; tests and demos)",
    )
    sec = p.add_argument_group("security")
    sec.add_argument(
        "--token-ttl",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="lifetime of a login token (default 900); consoles refresh before it ends",
    )
    sec.add_argument(
        "--demo-users",
        action="store_true",
        help="create the users viewer, operator, supervisor and admin, each with its name as password"
        " (demonstrations and tests only)",
    )
    sec.add_argument(
        "--add-user",
        metavar="NAME",
        help="create the user NAME (or reset its password and role, and enable it) in --data-dir, then exit;"
        " the password is read from standard input (first line) or asked twice on a terminal",
    )
    sec.add_argument("--role", type=str.upper, choices=[r.name for r in Role], help="the role for --add-user")
    sec.add_argument("--no-reflection", action="store_true", help="do not serve gRPC server reflection")
    sec.add_argument(
        "--insecure",
        action="store_true",
        help="allow serving plaintext (no --tls-cert) on a non-loopback address: anyone on the network"
        " can read the tokens and passwords",
    )
    sec.add_argument(
        "--wall",
        action="append",
        default=[],
        metavar="NAME=DISPLAY[,DISPLAY...]",
        help="a video wall and the displays allowed to attach it (display or console names, or"
        " user:ACCOUNT); repeatable. Supervisors create more walls from a console",
    )
    sec.add_argument(
        "--max-walls",
        type=int,
        default=MAX_WALLS,
        help=f"the most walls this backend holds (default {MAX_WALLS})",
    )
    sec.add_argument("--tls-cert", metavar="FILE", help="serve TLS with this PEM certificate (chain)")
    sec.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    sec.add_argument(
        "--client-ca",
        metavar="FILE",
        help="require client certificates signed by this PEM CA (mutual TLS; needs --tls-cert)",
    )
    store = p.add_argument_group("storage limits (see docs/security.md)")
    store.add_argument(
        "--audit-retention-days",
        type=float,
        default=365.0,
        metavar="DAYS",
        help="delete audit records older than this (default 365; 0: keep them all)",
    )
    store.add_argument(
        "--audit-max-mb",
        type=float,
        default=1024.0,
        metavar="MB",
        help="delete the oldest audit records while they take more than this (default 1024; 0: no limit)",
    )
    store.add_argument(
        "--min-free-mb",
        type=float,
        default=512.0,
        metavar="MB",
        help="raise a system alarm and report health NOT_SERVING for vigie.backend.disk while the data"
        " dir's file system has less free space than this (default 512; 0: do not watch)",
    )
    store.add_argument(
        "--disk-check-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between two free-space checks (default 10)",
    )
    store.add_argument(
        "--refusal-audit-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="refused calls of one kind from one peer are audited once, then counted in one summary"
        " record per this many seconds (default 60)",
    )
    rec = p.add_argument_group("recording and history (see docs/recording.md)")
    rec.add_argument(
        "--record",
        choices=["off", "continuous", "on_alarm"],
        default="off",
        help="what a camera records until a supervisor sets its own mode (default off: see the cost"
        " per camera in docs/recording.md before recording every simulated camera)",
    )
    rec.add_argument(
        "--record-fps",
        type=float,
        default=5.0,
        metavar="FPS",
        help="pictures per second recorded from simulated cameras (default 5)",
    )
    rec.add_argument(
        "--record-segment-s",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="length of one recording file (default 10; 2..60)",
    )
    rec.add_argument(
        "--record-quota-mb",
        type=float,
        default=10240.0,
        metavar="MB",
        help="all recordings together never take more than this (default 10240)",
    )
    rec.add_argument(
        "--record-days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="unprotected recordings are deleted after this (default 7)",
    )
    rec.add_argument(
        "--record-protected-days",
        type=float,
        default=30.0,
        metavar="DAYS",
        help="recordings around alarms and protected by hand are kept this long (default 30)",
    )
    rec.add_argument(
        "--record-pre-s",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds protected (and kept in on_alarm mode) before an alarm (default 10)",
    )
    rec.add_argument(
        "--record-post-s",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds protected (and recorded in on_alarm mode) after an alarm (default 30)",
    )
    rec.add_argument(
        "--history-days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="the city's asset and alarm history kept for playback's map (default 7)",
    )
    p.add_argument(
        "--time-zone",
        default="Europe/Paris",
        metavar="ZONE",
        help="the city's IANA time zone (default Europe/Paris): camera overlays, day and night, telemetry;"
        " give consoles the same (vigie --time-zone)",
    )
    devices = p.add_argument_group("device network over MQTT (docs/devices.md)")
    devices.add_argument(
        "--devices",
        default="simulator",
        metavar="simulator|mqtt://HOST:PORT",
        help="where the devices are: the in-process simulated city (default), or an MQTT broker",
    )
    devices.add_argument(
        "--devices-file",
        metavar="FILE",
        help="the registered devices (JSON, docs/schemas/devices.schema.json; vigie-devices --write-registry)",
    )
    devices.add_argument(
        "--discover",
        action="store_true",
        help="add an unregistered device when its first state arrives (it must carry lat and lon)",
    )
    devices.add_argument(
        "--mqtt-client-id",
        default="vigie-backend",
        metavar="ID",
        help="this backend's MQTT client id: its persistent session on the broker (one per backend)",
    )
    p.add_argument("--log-level", default="INFO")
    bus = p.add_argument_group("cluster on NATS JetStream (see docs/cluster.md)")
    bus.add_argument(
        "--bus",
        metavar="URL",
        help="join a cluster of replicas on this NATS server (nats://HOST:PORT, several comma-separated):"
        " device state in its JetStream KV, revisions valid on every replica, a leader elected",
    )
    bus.add_argument(
        "--bus-replicas",
        type=int,
        default=1,
        metavar="N",
        help="copies of every stream and bucket the backend creates (3 on a 3-node NATS cluster; default 1)",
    )
    bus.add_argument(
        "--lease-ttl",
        type=float,
        default=6.0,
        metavar="SECONDS",
        help="the leader's lease: if the leader dies, another replica takes over within this plus 0.5 s (default 6)",
    )
    add_operations_flags(p)
    try:
        config.apply(p, config.config_path(sys.argv[1:] if argv is None else argv), os.environ)
    except config.ConfigError as exc:
        p.error(str(exc))
    args = p.parse_args(argv)
    if args.bus is not None and not all(
        u.strip().startswith(("nats://", "tls://")) for u in args.bus.split(",")
    ):
        p.error("--bus takes nats://HOST:PORT (or tls://HOST:PORT), comma-separated")
    if not 1 <= args.bus_replicas <= 5:
        p.error("--bus-replicas must be between 1 and 5")
    if not 1.0 <= args.lease_ttl <= 60.0:
        p.error("--lease-ttl must be between 1 and 60 seconds")
    args.mqtt = None
    if args.devices != "simulator":
        from vigie.backend.adapters.mqtt.wire import broker_address

        try:
            args.mqtt = broker_address(args.devices)
        except ValueError as exc:
            p.error(f"--devices: {exc}")
        if not args.devices_file and not args.discover:
            p.error("--devices mqtt://... needs --devices-file FILE, --discover, or both")
        if args.no_simulator:
            p.error("--no-simulator goes with the simulated city; --devices mqtt://... already replaces it")
        args.no_simulator = True  # the city is the broker's devices: no simulated alarms or incidents
    elif args.devices_file or args.discover:
        p.error("--devices-file and --discover go with --devices mqtt://HOST:PORT")
    from vigie.backend.adapters.simulator import city_zone

    try:
        city_zone.set_zone(args.time_zone)
    except ValueError as exc:
        p.error(f"--time-zone: {exc}")
    if not 0 <= args.lights <= 50_000:
        p.error("--lights must be between 0 and 50000")
    if not 0 <= args.vehicles <= 1000:
        p.error("--vehicles must be between 0 and 1000")
    if args.incident_rate is None:
        args.incident_rate = 0.0 if args.quiet_city else 500.0
    if not 0 <= args.incident_rate <= 1_000_000:
        p.error("--incident-rate must be between 0 and 1000000 a day")
    if not 0.1 <= args.transit_speed <= 1000:
        p.error("--transit-speed must be between 0.1 and 1000")
    if not 0.1 <= args.dispatch_speedup <= 1000:
        p.error("--dispatch-speedup must be between 0.1 and 1000")
    if args.history < 1:
        p.error("--history must be at least 1")
    if not 1 <= args.alarm_history <= 10_000_000:
        p.error("--alarm-history must be between 1 and 10000000")
    if args.change_rate < 0:
        p.error("--change-rate must not be negative")
    if args.alarm_rate < 0:
        p.error("--alarm-rate must not be negative")
    if not 0 <= args.command_failure_rate <= 1:
        p.error("--command-failure-rate must be between 0 and 1")
    if not 0 <= args.badge_rate <= 1000:
        p.error("--badge-rate must be between 0 and 1000")
    if not args.command_ack_timeout > 0:
        p.error("--command-ack-timeout must be positive")
    if not 1 <= args.token_ttl <= 86_400:
        p.error("--token-ttl must be between 1 and 86400 seconds")
    if args.audit_retention_days < 0 or args.audit_max_mb < 0 or args.min_free_mb < 0:
        p.error("--audit-retention-days, --audit-max-mb and --min-free-mb must not be negative")
    if not 0.05 <= args.disk_check_interval <= 3600:
        p.error("--disk-check-interval must be between 0.05 and 3600 seconds")
    if not 0.05 <= args.health_check_interval <= 3600:
        p.error("--health-check-interval must be between 0.05 and 3600 seconds")
    if args.metrics and not _is_host_port(args.metrics):
        p.error(f"--metrics {args.metrics!r}: expected HOST:PORT (port 0-65535)")
    if args.metrics and not args.insecure and not is_loopback(args.metrics):
        p.error(
            f"refusing to serve metrics on {args.metrics}, a non-loopback address, without --insecure:"
            " they name devices and users' activity; put them behind your scraper's network or proxy"
        )
    if not 0.05 <= args.refusal_audit_window <= 86_400:
        p.error("--refusal-audit-window must be between 0.05 and 86400 seconds")
    try:
        database(args.data_dir, args.db)
    except ValueError as exc:
        p.error(str(exc))
    if args.add_user and not args.role:
        p.error("--add-user needs --role VIEWER|OPERATOR|SUPERVISOR|ADMIN")
    if args.role and not args.add_user:
        p.error("--role goes with --add-user NAME")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        p.error("--client-ca needs --tls-cert and --tls-key (mutual TLS)")
    if not 1 <= args.max_walls <= 1000:
        p.error("--max-walls must be between 1 and 1000")
    try:
        args.walls = parse_walls(args.wall)
    except ValueError as exc:
        p.error(str(exc))
    if len(args.walls) > args.max_walls:
        p.error(f"{len(args.walls)} --wall for --max-walls {args.max_walls}")
    if not args.add_user and not args.tls_cert and not args.insecure and not is_loopback(args.listen):
        p.error(
            f"refusing to serve plaintext on {args.listen}, a non-loopback address: tokens and passwords"
            " would cross the network in clear. Give --tls-cert and --tls-key, listen on 127.0.0.1,"
            " or pass --insecure to accept that"
        )
    if args.data_dir is None:
        import platformdirs

        args.data_dir = platformdirs.user_data_dir("vigie")
    if args.no_simulator and not args.cameras and args.mqtt is None:
        p.error("--no-simulator needs --cameras FILE (otherwise there is nothing to serve)")
    return args


def add_operations_flags(p: argparse.ArgumentParser) -> None:
    """What an IT team sets (docs/deployment.md): configuration, logs, metrics, health."""
    ops = p.add_argument_group("operations (docs/deployment.md)")
    ops.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    ops.add_argument(
        "--config",
        metavar="FILE",
        help="a TOML file holding any of these flags (key = the long flag without --); the command"
        " line wins over VIGIE_BACKEND_<FLAG> variables, which win over the file",
    )
    ops.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text lines (default) or one JSON object per line, with request id, method, user, console",
    )
    ops.add_argument(
        "--log-file",
        metavar="FILE",
        help="also append the log lines to FILE (created 0600), in the same format",
    )
    ops.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        help="serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (default: off)",
    )
    ops.add_argument(
        "--health-check-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between two checks of the dependencies: data dir writable, devices reachable"
        " (default 10)",
    )


def is_loopback(listen: str) -> bool:
    """Does HOST:PORT (or unix:PATH) only accept connections from this machine?"""
    if listen.startswith(("unix:", "unix-abstract:")):
        return True
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name (or a bad address): it may resolve to anything


def _is_host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and int(port) <= 65535)


def parse_walls(specs: list[str]) -> dict[str, tuple[str, ...]]:
    """--wall NAME=DISPLAY[,DISPLAY...] options -> {name: allowed displays}; ValueError says why."""
    out: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        name, sep, displays = spec.partition("=")
        try:
            check_name(name)
            if not sep:
                raise InvalidContent("expected NAME=DISPLAY[,DISPLAY...]")
            allowed = check_allowed(d.strip() for d in displays.split(","))
        except InvalidContent as exc:
            raise ValueError(f"--wall {spec!r}: {exc}") from None
        if name in out:
            raise ValueError(f"--wall {name} is given twice")
        out[name] = allowed
    return out


def build_network(args: argparse.Namespace) -> DeviceNetwork:
    """The simulator (default), the catalogue cameras, or both behind one CompositeNetwork.

    Raises CatalogueError for a bad catalogue, including ids that clash with simulated devices."""
    from vigie.backend.adapters.cameras import CameraNetwork, CatalogueError, load_catalogue
    from vigie.backend.adapters.composite import CompositeNetwork
    from vigie.backend.adapters.simulator import CitySimulator

    specs = load_catalogue(args.cameras) if args.cameras else []
    if args.mqtt is not None:
        mqtt = mqtt_network(args)
        return mqtt if not specs else CompositeNetwork([mqtt, CameraNetwork(specs)])
    sim = None
    if not args.no_simulator:
        sim = CitySimulator(
            seed=args.seed,
            lights=args.lights,
            change_rate=args.change_rate,
            vehicles=args.vehicles,
            churn_status=args.change_kind == "status",
            events=not args.quiet_city,
            command_failure_rate=args.command_failure_rate,
            badge_rate=args.badge_rate,
            transit=not (args.no_transit or args.quiet_city),  # a quiet city has no traffic either
            transit_speed=args.transit_speed,
        )
    if not args.cameras:
        assert sim is not None
        return sim
    if sim is not None:
        taken = {a.id for a in sim.city.assets}
        clashes = [
            f"{args.cameras}: camera #{i} (id {s.id!r}): key 'id': already used by a simulated device; rename it"
            for i, s in enumerate(specs, start=1)
            if s.id in taken
        ]
        if clashes:
            raise CatalogueError(clashes)
    cams = CameraNetwork(specs, district_of=sim.city.district_of if sim is not None else None)
    return cams if sim is None else CompositeNetwork([sim, cams])


def mqtt_network(args: argparse.Namespace) -> DeviceNetwork:
    """--devices mqtt://HOST:PORT with its devices file; raises RegistryError for a bad file."""
    from vigie.backend.adapters.mqtt import MqttNetwork, load_registry

    registered = load_registry(args.devices_file) if args.devices_file else []
    host, port = args.mqtt
    return MqttNetwork(
        host,
        port,
        registered,
        discover=args.discover,
        client_id=args.mqtt_client_id,
        fresh_session_each_start=bool(args.bus),  # a replica leads again: its old queue is stale
    )


def read_new_password(name: str) -> str:
    """The first line of standard input (scripts), or asked twice without echo (a terminal)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def add_user(args: argparse.Namespace) -> int:
    """--add-user: create the user or reset its password (and role); audited; exits, never serves."""
    import getpass

    from vigie.backend.domain.audit import AuditEntry
    from vigie.backend.security.passwords import hash_password
    from vigie.backend.security.users import check_name, check_password
    from vigie.backend.store.audit_sqlite import AuditStore
    from vigie.backend.store.sql import database
    from vigie.backend.store.users_sqlite import UserDB

    name = args.add_user
    try:
        password = read_new_password(name)
    except (ValueError, EOFError, KeyboardInterrupt) as exc:
        print(f"vigie-backend: {exc or 'no password given'}", file=sys.stderr)
        return 2
    problem = check_name(name) or check_password(password)
    if problem:
        print(f"vigie-backend: cannot add user {name!r}: {problem}", file=sys.stderr)
        return 2
    where = database(args.data_dir, args.db)
    db = UserDB(where)
    try:
        created = db.upsert_password(name, int(Role[args.role]), hash_password(password))
    finally:
        db.close()
    audit = AuditStore(where)
    audit.record(
        AuditEntry(
            user=f"local:{getpass.getuser()}",
            console="vigie-backend --add-user",
            action="user.create" if created else "user.reset_password",
            target=name,
            reason="",
            result="ok",
            detail=f"role {args.role}",
        )
    )
    audit.close_blocking()
    print(f"user {name} {'created' if created else 'updated'} with role {args.role} in {db.path}")
    return 0


def tls_credentials(args: argparse.Namespace) -> grpc.ServerCredentials | None:
    """Raises TlsError; prints (and logs) a warning for certificates that expire soon."""
    if not args.tls_cert:
        return None
    from vigie.backend.security.tls import TlsFiles, server_credentials

    creds, warnings = server_credentials(TlsFiles(args.tls_cert, args.tls_key, args.client_ca))
    for w in warnings:
        print(f"vigie-backend: WARNING: {w}", file=sys.stderr, flush=True)
        logging.warning("%s", w)
    return creds


async def serve(
    args: argparse.Namespace,
    network: DeviceNetwork,
    tls: grpc.ServerCredentials | None,
    modes: list | None = None,
) -> None:
    replica = None
    if args.bus:
        from vigie.backend.bus.connection import BusOptions
        from vigie.backend.bus.replica import Replica

        urls = [u.strip() for u in args.bus.split(",")]
        replica = await Replica.join(
            BusOptions(urls, replicas=args.bus_replicas, lease_ttl_s=args.lease_ttl), history=args.history
        )
        from vigie.backend.bus.commands import ClusterNetwork

        network = ClusterNetwork(  # type: ignore[assignment]
            network, replica.bus.nc, lambda: replica.leading, request_timeout_s=args.command_ack_timeout + 1.0
        )
    backend = Backend(
        network,
        history=args.history,
        alarm_history=args.alarm_history,
        heartbeat_s=args.heartbeat,
        data_dir=args.data_dir,
        db_url=args.db,
        alarm_rate=args.alarm_rate,
        simulated_alarms=not args.no_simulator,
        seed=args.seed,
        command_ack_timeout_s=args.command_ack_timeout,
        token_ttl_s=args.token_ttl,
        demo_users=args.demo_users,
        serve_reflection=not args.no_reflection,
        tls=tls,
        walls=args.walls,
        max_walls=args.max_walls,
        audit_retention_days=args.audit_retention_days or None,
        audit_max_mb=args.audit_max_mb or None,
        min_free_mb=args.min_free_mb,
        disk_check_s=args.disk_check_interval,
        refusal_window_s=args.refusal_audit_window,
        incident_rate=args.incident_rate if not args.no_simulator else 0.0,
        dispatch_speedup=args.dispatch_speedup,
        modes=modes,
        health_check_s=args.health_check_interval,
        replica=replica,
        recording=RecordingConfig(
            mode=args.record,
            fps=args.record_fps,
            segment_s=min(max(args.record_segment_s, 2.0), 60.0),
            max_age_days=args.record_days,
            protected_days=args.record_protected_days,
            quota_mb=args.record_quota_mb,
            pre_s=args.record_pre_s,
            post_s=args.record_post_s,
            history_days=args.history_days,
        ),
    )
    port = await backend.start(args.listen)
    if args.metrics:
        http = backend.metrics.serve(args.metrics)
        logging.info("metrics on http://%s:%d/metrics", args.metrics.rsplit(":", 1)[0], http.server_port)
        print(f"{METRICS_PREFIX} {args.metrics.rsplit(':', 1)[0]}:{http.server_port}", flush=True)
    host = args.listen.rsplit(":", 1)[0]
    print(f"{READY_PREFIX} {host}:{port}", flush=True)
    logging.info(
        "serving %d assets on %s:%d over %s (epoch %s)",
        len(backend.store),
        host,
        port,
        "TLS" if tls else "plaintext",
        backend.epoch,
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.stop_on_stdin_eof:
        # The parent holds our stdin open; when it exits (even by a crash) the pipe closes.
        def wait_eof() -> None:
            # Raw reads: a buffered reader's lock would abort interpreter shutdown.
            while os.read(0, 4096):
                pass
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_eof, name="stdin-eof", daemon=True).start()
    await stop.wait()
    logging.info("stopping")
    arm_stop_deadline()
    await backend.stop()


def load_city_modes(args: argparse.Namespace) -> list | int:
    """The provided modes plus --modes DIR; exit status 2 (every problem printed) for bad files."""
    from vigie.backend.domain.modes import ModeFileError, load_modes

    try:
        return load_modes(args.modes)
    except ModeFileError as exc:
        print(f"vigie-backend: invalid city mode files:\n{exc}", file=sys.stderr)
        return 2


STOP_DEADLINE_S = 15.0


def arm_stop_deadline(seconds: float = STOP_DEADLINE_S) -> None:
    """Once asked to stop, the process is gone within `seconds`, whatever hangs (the soak saw a
    backend ignore SIGTERM for 30 s, twice in ~20 stops): past it, every thread's stack goes to
    stderr (the log, to find the cause), then the process exits with status 1. Armed only when
    stopping, so it never fires in a serving backend. Called from the loop, it also logs where
    each asyncio task waits a few seconds before that: the thread stacks of a hang seen so far
    showed only an idle loop (format_tasks is imported with this module: a hung stop may hold the
    import lock)."""
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.call_later(max(0.0, seconds - TASK_DUMP_BEFORE_S), _log_pending_tasks, loop, seconds)


TASK_DUMP_BEFORE_S = 3.0  # the tasks' dump comes this long before the deadline


def _log_pending_tasks(loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    logging.error(
        "still stopping %.0f s after being asked; %s", seconds - TASK_DUMP_BEFORE_S, format_tasks(loop)
    )


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words and words[0] in ("backup", "restore"):
        from vigie.backend.backup import main as backup_main

        return backup_main(words)
    if words and words[0] == "health":
        from vigie.backend.observability.probe import main as probe_main

        return probe_main(words)
    args = parse_args(argv)
    from vigie.backend.observability import logs

    logs.setup(args.log_level, args.log_format, args.log_file)
    if args.add_user:
        return add_user(args)
    from vigie.backend.adapters.cameras import CatalogueError
    from vigie.backend.security.tls import TlsError

    try:
        tls = tls_credentials(args)
    except TlsError as exc:
        print(f"vigie-backend: cannot serve TLS: {exc}", file=sys.stderr)
        return 2
    from vigie.backend.adapters.mqtt import RegistryError

    try:
        network = build_network(args)
    except CatalogueError as exc:
        print(f"vigie-backend: invalid camera catalogue:\n{exc}", file=sys.stderr)
        return 2
    except RegistryError as exc:
        print(f"vigie-backend: invalid devices file:\n{exc}", file=sys.stderr)
        return 2
    modes = load_city_modes(args)
    if isinstance(modes, int):
        return modes
    try:
        asyncio.run(serve(args, network, tls, modes))
    except OSError as exc:
        print(f"vigie-backend: {exc}", file=sys.stderr)
        return 1
    return 0

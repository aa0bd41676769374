"""`vigie-backend health [--address HOST:PORT] [--service NAME]`: asks a running backend's gRPC
health service and exits 0 when SERVING, 1 otherwise (container HEALTHCHECK, scripts, systemd
ExecStartPost). Health needs no token; with TLS, `--ca FILE` verifies the server."""

from __future__ import annotations

import argparse
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="vigie-backend health", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--address", default="127.0.0.1:50051", help="the backend's HOST:PORT (default 127.0.0.1:50051)"
    )
    p.add_argument(
        "--service", default="", help="a service or vigie.backend.<subsystem> (default: the server)"
    )
    p.add_argument("--ca", metavar="FILE", help="PEM CA of a TLS backend's certificate")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    args = p.parse_args(argv[1:])
    if args.ca:
        with open(args.ca, "rb") as f:
            channel = grpc.secure_channel(args.address, grpc.ssl_channel_credentials(f.read()))
    else:
        channel = grpc.insecure_channel(args.address)
    try:
        with channel:
            status = (
                health_pb2_grpc.HealthStub(channel)
                .Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
                .status
            )
    except grpc.RpcError as exc:
        print(
            f"{args.address} {args.service or '(server)'}: {exc.code().name} {exc.details()}", file=sys.stderr
        )
        return 1
    name = health_pb2.HealthCheckResponse.ServingStatus.Name(status)
    print(f"{args.address} {args.service or '(server)'}: {name}")
    return 0 if status == health_pb2.HealthCheckResponse.SERVING else 1

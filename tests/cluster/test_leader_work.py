"""Work that runs once, on the leader: a command given to a replica that does not lead reaches
the leader's device network and is confirmed through the bus; when the leader is killed -9,
the other replica takes the lease and commands given to it are carried out again within 10 s."""

from __future__ import annotations

import time
import uuid

from tests.cluster.helpers import leader_pid, replica, wait_for_line
from tests.conftest import open_channel
from vigie.v1 import assets_pb2, assets_pb2_grpc, commands_pb2, commands_pb2_grpc

C = commands_pb2
LEADER = "is now the leader"
ENDS = (C.CONFIRMED, C.FAILED, C.TIMED_OUT, C.REJECTED)


def commands_stub(address: str) -> commands_pb2_grpc.CommandServiceStub:
    """A command stub logged in as the operator (as a console is: once, not per command)."""
    return commands_pb2_grpc.CommandServiceStub(open_channel(address, user="operator"))


def run_command(
    address: str, asset_id: str, action: int, stub: commands_pb2_grpc.CommandServiceStub | None = None
) -> tuple[int, str]:
    """Execute as the operator (through `stub` when given) and follow the command to its end:
    (final stage, detail)."""
    stub = stub or commands_stub(address)
    status = stub.Execute(
        C.ExecuteRequest(idempotency_key=uuid.uuid4().hex, asset_ids=[asset_id], action=action), timeout=30
    ).status
    for s in stub.WatchCommand(C.WatchCommandRequest(command_id=status.command_id), timeout=60):
        status = s
        if s.done:
            break
    (target,) = status.targets
    assert target.stage in ENDS, target
    return target.stage, target.detail


def mode_of(address: str, asset_id: str) -> str:
    stub = assets_pb2_grpc.AssetServiceStub(open_channel(address, user="viewer"))
    return stub.GetAsset(assets_pb2.GetAssetRequest(id=asset_id), timeout=10).attributes["mode"]


def a_street_light(address: str) -> str:
    stub = assets_pb2_grpc.AssetServiceStub(open_channel(address, user="viewer"))
    page = stub.ListAssets(
        assets_pb2.ListAssetsRequest(kinds=[assets_pb2.Asset.STREET_LIGHT], page_size=1), timeout=10
    )
    return page.assets[0].id


def test_commands_go_through_the_leader_and_move_with_the_lease(nats_server, tmp_path, capsys):
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    a = replica(nats_server.url, a_log).start()
    b = None
    try:
        wait_for_line(a_log, LEADER, 30)
        b = replica(nats_server.url, b_log).start()
        assert a.proc is not None and leader_pid(nats_server.url) == a.proc.pid
        light = a_street_light(b.address)

        # Through B, which does not lead: A's device network acts, B sees it confirmed.
        assert run_command(b.address, light, C.LIGHT_OFF)[0] == C.CONFIRMED
        assert mode_of(b.address, light) == "off"

        b_size = b_log.stat().st_size
        a.kill()
        t_kill = time.monotonic()
        refused = 0
        deadline = t_kill + 30
        while True:
            stage, detail = run_command(b.address, light, C.LIGHT_ON)
            if stage == C.CONFIRMED:
                break
            refused += 1  # no leader yet: said so, and nothing done
            assert "leader" in detail, detail
            assert time.monotonic() < deadline, "no replica carried the command out after 30 s"
        t_done = time.monotonic()
        wait_for_line(b_log, LEADER, 1, after=b_size)
        assert mode_of(b.address, light) == "on"
        assert t_done - t_kill < 10, (
            f"commands were carried out again only {t_done - t_kill:.1f} s after the kill"
        )
        with capsys.disabled():
            print(
                f"\n[leader work] command confirmed through B {t_done - t_kill:.1f} s after the leader's kill -9"
                f" ({refused} refused meanwhile, each saying there was no leader)"
            )
    finally:
        a.kill()
        if b is not None:
            b.kill()

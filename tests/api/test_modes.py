"""City modes on a real backend: a 500-device mode with seeded device failures, exact per-device
results, retry reaching only the failed devices, return to normal restoring every device to its
state before the mode (compared with a snapshot the test takes itself), devices changed by hand
listed and not overwritten, one audit record per activation and return, WatchModes resuming
across a reconnect and a restart, and the recorded states surviving a kill -9."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import grpc
import pytest

from tests.api.test_alarms_service import StreamChecker
from tests.conftest import open_channel
from vigie.v1 import (
    assets_pb2,
    assets_pb2_grpc,
    audit_pb2,
    audit_pb2_grpc,
    commands_pb2,
    commands_pb2_grpc,
    modes_pb2,
    modes_pb2_grpc,
)

R = modes_pb2.ModeRun
LIGHT = assets_pb2.Asset.STREET_LIGHT
DIM_ALL = """
[mode]
id = "dim_all"
name = "Dim every light"
color = "#123456"

[[step]]
name = "dim"
action = "LIGHT_DIM"
params = { level_percent = 30 }
select = { kinds = ["street_light"] }
"""
FAILED = {commands_pb2.FAILED, commands_pb2.TIMED_OUT, commands_pb2.REJECTED}


class ModeStreamChecker(StreamChecker):
    """The alarm stream checker's reading and ordering rules, applied to WatchModes."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: dict[str, modes_pb2.ModeRun] = {}

    def feed(self, msg: modes_pb2.WatchModesResponse) -> None:  # type: ignore[override]
        kind = msg.WhichOneof("event")
        assert kind != "resync_needed", msg.resync_needed.reason
        if self.epoch:
            assert msg.epoch == self.epoch
        self.epoch = msg.epoch
        if kind == "snapshot":
            for r in msg.snapshot.runs:
                assert r.sequence <= msg.sequence
                self.runs[r.run_id] = r
            self.sequence = msg.sequence
        elif kind == "changes":
            for c in msg.changes.changes:
                assert c.sequence == self.sequence + 1, (c.sequence, self.sequence)
                assert c.run.sequence == c.sequence
                self.sequence = c.sequence
                self.runs[c.run.run_id] = c.run
                self.changes.append(c)
            assert msg.sequence == self.sequence
        else:
            assert msg.sequence == self.sequence


def modes_dir() -> str:
    d = tempfile.mkdtemp(prefix="vigie-modes-")
    Path(d, "dim_all.toml").write_text(DIM_ALL, encoding="utf-8")
    return d


def start(make_backend, data: str | None = None, *extra: str):
    args = ["--seed", "5", "--quiet-city", "--lights", "500", "--vehicles", "0", "--badge-rate", "0"]
    args += ["--command-failure-rate", "0.1", "--modes", modes_dir(), *extra]
    if data:
        args += ["--data-dir", data]
    return make_backend(*args).start()


def lights(ch) -> dict[str, assets_pb2.Asset]:
    stub = assets_pb2_grpc.AssetServiceStub(ch)
    resp = stub.ListAssets(assets_pb2.ListAssetsRequest(kinds=[LIGHT], page_size=10_000), timeout=10)
    assert not resp.next_page_token
    return {a.id: a for a in resp.assets}


def watch(stub, after: int = 0, epoch: str = "", timeout: float = 120):
    return stub.WatchModes(modes_pb2.WatchModesRequest(after_sequence=after, epoch=epoch), timeout=timeout)


def wait_state(checker: ModeStreamChecker, stream, run_id: str, states: set[int], timeout: float = 90.0):
    checker.read_until_true(
        stream, lambda: run_id in checker.runs and checker.runs[run_id].state in states, timeout
    )
    return checker.runs[run_id]


def return_and_wait(stub, checker: ModeStreamChecker, stream, run_id: str, reason: str) -> modes_pb2.ModeRun:
    """Return to normal, then follow WatchModes until that return has ended; the run's state then."""
    back = stub.ReturnToNormal(
        modes_pb2.ReturnToNormalRequest(
            idempotency_key=uuid.uuid4().hex, run_id=run_id, reason=reason, confirmed=True
        ),
        timeout=30,
    )
    checker.read_until_true(
        stream,
        lambda: (
            checker.runs[run_id].sequence > back.run.sequence
            and checker.runs[run_id].state in (R.RETURNED, R.RETURNED_PARTIAL)
        ),
        90,
    )
    return checker.runs[run_id]


def results(stub, run_id: str, phase: int = 0) -> dict[str, modes_pb2.DeviceResult]:
    out: dict[str, modes_pb2.DeviceResult] = {}
    token = ""
    while True:
        resp = stub.GetRun(
            modes_pb2.GetRunRequest(run_id=run_id, phase=phase, page_token=token, page_size=200), timeout=10
        )
        for r in resp.results:
            assert r.asset_id not in out
            out[r.asset_id] = r
        token = resp.next_page_token
        if not token:
            return out


def state(a: assets_pb2.Asset) -> tuple[str, str]:
    return a.attributes["mode"], a.attributes["level_pct"]


def audit(ch, action: str, run_id: str) -> list[audit_pb2.AuditRecord]:
    stub = audit_pb2_grpc.AuditServiceStub(ch)
    resp = stub.ListAudit(audit_pb2.ListAuditRequest(action=action, target=run_id, page_size=100), timeout=10)
    return list(resp.records)


def activate(stub, mode_id: str = "dim_all", key: str | None = None) -> modes_pb2.ActivateResponse:
    return stub.Activate(
        modes_pb2.ActivateRequest(
            idempotency_key=key or uuid.uuid4().hex,
            mode_id=mode_id,
            scope=modes_pb2.ModeScope(whole_city=True),
            reason="exercise",
            confirmed=True,
        ),
        timeout=30,
    )


def test_500_devices_exact_results_retry_return_and_hand_changes(make_backend):
    b = start(make_backend)
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        before = lights(ch)
        assert len(before) == 500
        non_default = {i for i, a in before.items() if state(a) != ("on", "100")}
        assert non_default, "the city has lights dimmed before the mode (circuits at 70 or 50 %)"
        unhealthy = {
            i
            for i, a in before.items()
            if a.status in (assets_pb2.Asset.OFFLINE, assets_pb2.Asset.FAULT, assets_pb2.Asset.MAINTENANCE)
        }

        checker = ModeStreamChecker()
        stream = watch(stub)
        checker.read_snapshot(stream)
        run = activate(stub).run
        run = wait_state(checker, stream, run.run_id, {R.ACTIVE, R.PARTIAL})
        assert run.state == R.PARTIAL  # 10 % seeded failures among ~490 devices

        # Per-device results are exact: what each device reports now says what its result is.
        now = lights(ch)
        res = results(stub, run.run_id)
        assert set(res) == set(before)
        failed = set()
        for i, r in res.items():
            if i in unhealthy:
                assert r.refused and r.stage == 0, (i, r)
                assert state(now[i]) == state(before[i])
            elif r.stage == commands_pb2.CONFIRMED:
                assert state(now[i]) == ("dimmed", "30"), (i, r)
            else:
                assert r.stage in FAILED, (i, r)
                assert state(now[i]) == state(before[i]), (i, r)
                failed.add(i)
        assert failed and run.failed == len(failed) and run.refused == len(unhealthy)
        assert run.confirmed == 500 - len(unhealthy) - len(failed)

        # Retry reaches the failed devices only: the device acknowledgements recorded after it
        # name exactly those devices.
        t_retry = time.time()
        retry = stub.RetryFailed(
            modes_pb2.RetryFailedRequest(
                idempotency_key=uuid.uuid4().hex, run_id=run.run_id, reason="again", confirmed=True
            ),
            timeout=30,
        )
        assert set(retry.retried_asset_ids) == failed
        wait_state(checker, stream, run.run_id, {R.ACTIVE, R.PARTIAL})
        acks = audit_stub_records(ch, "command.device_ack", t_retry)
        assert {r.target for r in acks} == failed
        res2 = results(stub, run.run_id)
        for i, r in res2.items():
            assert r.attempts == (2 if i in failed else 0 if i in unhealthy else 1), (i, r.attempts)

        # An operator changes three dimmed lights by hand during the mode.
        dimmed_now = sorted(i for i, a in lights(ch).items() if state(a) == ("dimmed", "30"))
        by_hand = dimmed_now[:3]
        cmd_stub = commands_pb2_grpc.CommandServiceStub(ch)
        handed = hand_command(cmd_stub, by_hand)
        preview = stub.ReturnToNormal(
            modes_pb2.ReturnToNormalRequest(run_id=run.run_id, dry_run=True), timeout=30
        )
        assert {d.asset_id for d in preview.hand_changed} == handed

        back = stub.ReturnToNormal(
            modes_pb2.ReturnToNormalRequest(
                idempotency_key=uuid.uuid4().hex, run_id=run.run_id, reason="over", confirmed=True
            ),
            timeout=30,
        )
        assert {d.asset_id for d in back.hand_changed} == handed
        final = wait_state(checker, stream, run.run_id, {R.RETURNED, R.RETURNED_PARTIAL})
        for _ in range(8):  # seeded failures on the way back too: retry until every device is back
            if final.state == R.RETURNED:
                break
            stub.RetryFailed(
                modes_pb2.RetryFailedRequest(
                    idempotency_key=uuid.uuid4().hex, run_id=run.run_id, reason="back", confirmed=True
                ),
                timeout=30,
            )
            checker.read_until_true(stream, lambda: checker.runs[run.run_id].state == R.RETURNING, 30)
            final = wait_state(checker, stream, run.run_id, {R.RETURNED, R.RETURNED_PARTIAL})
        assert final.state == R.RETURNED
        stream.cancel()

        after = lights(ch)
        for i in before:
            if i in handed:
                assert state(after[i]) == ("on", "100"), "a device changed by hand is not overwritten"
            else:
                assert state(after[i]) == state(before[i]), (i, state(before[i]), state(after[i]))

        # One audit record per activation and per return of this run.
        assert [r.result for r in audit(ch, "mode.activate", run.run_id)] == ["ok"]
        assert [r.result for r in audit(ch, "mode.return", run.run_id)] == ["ok"]


def audit_stub_records(ch, action: str, since: float) -> list[audit_pb2.AuditRecord]:
    stub = audit_pb2_grpc.AuditServiceStub(ch)
    req = audit_pb2.ListAuditRequest(action=action, page_size=5000)
    req.start.FromNanoseconds(int(since * 1e9))
    return list(stub.ListAudit(req, timeout=10).records)


def hand_command(stub, ids: list[str]) -> set[str]:
    resp = stub.Execute(
        commands_pb2.ExecuteRequest(
            idempotency_key=uuid.uuid4().hex, asset_ids=ids, action=commands_pb2.LIGHT_ON
        ),
        timeout=10,
    )
    deadline = time.monotonic() + 30
    for status in stub.WatchCommand(
        commands_pb2.WatchCommandRequest(command_id=resp.status.command_id), timeout=30
    ):
        if status.done:
            return {t.asset_id for t in status.targets if t.stage == commands_pb2.CONFIRMED}
        assert time.monotonic() < deadline
    raise AssertionError("command stream ended early")


def test_activation_needs_a_supervisor_a_reason_and_a_key(make_backend):
    b = start(make_backend)
    with open_channel(b.address, user="operator") as ch:
        with pytest.raises(grpc.RpcError) as err:
            activate(modes_pb2_grpc.ModeServiceStub(ch))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with open_channel(b.address, user="supervisor") as ch:
        # The refusal is in the audit trail, as a refused command would be.
        trail = audit_pb2_grpc.AuditServiceStub(ch).ListAudit(
            audit_pb2.ListAuditRequest(action="mode.activate", result="denied", page_size=10), timeout=10
        )
        assert [r.user for r in trail.records] == ["operator"]
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        for req, needle in [
            (
                modes_pb2.ActivateRequest(
                    mode_id="dim_all", scope=modes_pb2.ModeScope(whole_city=True), reason="x", confirmed=True
                ),
                "idempotency_key",
            ),
            (
                modes_pb2.ActivateRequest(
                    idempotency_key="k1",
                    mode_id="dim_all",
                    scope=modes_pb2.ModeScope(whole_city=True),
                    confirmed=True,
                ),
                "reason",
            ),
            (
                modes_pb2.ActivateRequest(
                    idempotency_key="k2",
                    mode_id="dim_all",
                    scope=modes_pb2.ModeScope(whole_city=True),
                    reason="x",
                ),
                "confirm",
            ),
            (
                modes_pb2.ActivateRequest(
                    idempotency_key="k3",
                    mode_id="nope",
                    scope=modes_pb2.ModeScope(whole_city=True),
                    reason="x",
                    confirmed=True,
                ),
                "unknown mode",
            ),
            (
                modes_pb2.ActivateRequest(
                    idempotency_key="k4", mode_id="dim_all", reason="x", confirmed=True
                ),
                "scope",
            ),
            (
                modes_pb2.ActivateRequest(
                    idempotency_key="k5",
                    mode_id="dim_all",
                    scope=modes_pb2.ModeScope(districts=["Atlantis"]),
                    reason="x",
                    confirmed=True,
                ),
                "unknown districts",
            ),
        ]:
            with pytest.raises(grpc.RpcError) as err:
                stub.Activate(req, timeout=10)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, needle
            assert needle in err.value.details(), (needle, err.value.details())
        # A retried call with the same key is the same run, never a second one.
        first = activate(stub, key="same")
        again = activate(stub, key="same")
        assert again.replayed and again.run.run_id == first.run.run_id
        assert len(audit(ch, "mode.activate", first.run.run_id)) == 1


def test_preview_lists_conflicts_with_an_active_mode_and_activation_leaves_those_devices(make_backend):
    b = start(make_backend)
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        healthy = {
            i for i, a in lights(ch).items() if a.status in (assets_pb2.Asset.OK, assets_pb2.Asset.WARNING)
        }
        dim = activate(stub).run
        whole = modes_pb2.ModeScope(whole_city=True)
        preview = stub.Preview(modes_pb2.PreviewRequest(mode_id="major_event", scope=whole), timeout=30)
        # Major event's lights step selects every light: those dim_all holds are conflicts.
        held = {c.asset_id for c in preview.conflicts if c.step == "full-light"}
        assert held == healthy
        assert all(c.run_id == dim.run_id and c.mode_name == "Dim every light" for c in preview.conflicts)
        counts = {c.kind: c for c in preview.counts}
        assert counts[LIGHT].conflicts == len(healthy) and counts[LIGHT].changes == 0
        event = activate(stub, mode_id="major_event").run
        res = results(stub, event.run_id)
        assert {i for i, r in res.items() if r.refused and "held by Dim every light" in r.detail} >= healthy


def test_watch_modes_resumes_across_reconnect_and_restart_and_survives_kill_9(make_backend):
    data = tempfile.mkdtemp(prefix="vigie-modes-data-")
    b = start(make_backend, data)
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        before = lights(ch)
        c = ModeStreamChecker()
        stream = watch(stub)
        c.read_snapshot(stream)
        run = activate(stub).run
        # Reconnect mid-activation: the resumed stream continues with no gap and no repeat.
        c.read_until(stream, c.sequence + 1)
        stream.cancel()
        stream = watch(stub, c.sequence, c.epoch)
        done = wait_state(c, stream, run.run_id, {R.ACTIVE, R.PARTIAL})
        stream.cancel()
        last, epoch = c.sequence, c.epoch
        mid = lights(ch)
    b.kill()  # kill -9: the run and its recorded states must survive
    b.start()
    with open_channel(b.address, user="supervisor") as ch:
        stub = modes_pb2_grpc.ModeServiceStub(ch)
        listed = stub.ListModes(modes_pb2.ListModesRequest(), timeout=10)
        assert [r.run_id for r in listed.active] == [run.run_id]
        assert listed.active[0].state == done.state
        stream = watch(stub, last, epoch)
        stub.ReturnToNormal(
            modes_pb2.ReturnToNormalRequest(
                idempotency_key=uuid.uuid4().hex, run_id=run.run_id, reason="r", confirmed=True
            ),
            timeout=30,
        )
        # Resumed after the restart from where the client stopped: no resync, no gap.
        final = wait_state(c, stream, run.run_id, {R.RETURNED, R.RETURNED_PARTIAL})
        stream.cancel()
        assert c.epoch == epoch
        # The simulated city restarted in its initial state, so the recorded states are those the
        # devices are back in; what matters is that the return knew them: every device the mode
        # changed was restored to its state before the mode, or its failure is listed.
        res = results(stub, run.run_id, phase=modes_pb2.DeviceResult.RETURN)
        after = lights(ch)
        for i, a in before.items():
            r = res[i]
            if r.refused or r.stage in FAILED:
                continue
            assert state(after[i]) == state(a), (i, r)
        # The recorded states came through the kill: each is the state the test saw before.
        words = {("on", "100"): "on", ("off", "0"): "off"}
        for i, a in before.items():
            want = words.get(state(a), f"dimmed to {state(a)[1]} %")
            assert res[i].previous_state == want, (i, res[i].previous_state, want)
        assert final.run_id == run.run_id
        assert any(
            state(a) == ("dimmed", "30") for a in mid.values()
        )  # the mode was on the devices before the kill


def test_quiet_watch_modes_gets_heartbeats_at_its_sequence(make_backend):
    b = start(make_backend, None, "--heartbeat", "0.3")
    with open_channel(b.address, user="viewer") as ch:
        stream = watch(modes_pb2_grpc.ModeServiceStub(ch), timeout=20)
        c = ModeStreamChecker()
        c.read_snapshot(stream)
        beats = []
        for msg in stream:
            c.feed(msg)
            assert msg.WhichOneof("event") == "heartbeat"
            beats.append(msg.sequence)
            if len(beats) == 3:
                break
        stream.cancel()
        assert beats == [c.sequence] * 3

"""Commands in the domain: the validation table, exactly-once execution per (user, key), key
expiry and bounds, progress watching, and the audit records each attempt leaves."""

from __future__ import annotations

import asyncio
import time

import pytest

from vigie.backend.adapters.simulator import CitySimulator
from vigie.backend.command_dispatch import CommandDispatcher
from vigie.backend.domain.actions import ACTIONS, Action, Params, parse_grants, shows
from vigie.backend.domain.assets import Asset, Kind, Status
from vigie.backend.domain.audit import MemoryAuditSink
from vigie.backend.domain.commands import (
    Command,
    CommandBook,
    CommandDenied,
    CommandInvalid,
    CommandRequest,
    Stage,
    UnknownCommand,
)
from vigie.backend.domain.revlog import AssetStore
from vigie.backend.security.principal import Principal, Role

KINDS = {
    "lgt-1": Kind.STREET_LIGHT,
    "lgt-2": Kind.STREET_LIGHT,
    "sig-1": Kind.TRAFFIC_SIGNAL,
    "bol-1": Kind.BOLLARD,
    "acc-1": Kind.ACCESS_POINT,
    "cam-1": Kind.CAMERA,
    "wat-1": Kind.WATER_SENSOR,
}
OPERATOR = Principal("olivia", Role.OPERATOR, console="desk-1")
SUPERVISOR = Principal("sam", Role.SUPERVISOR, console="desk-2")
VIEWER = Principal("vic", Role.VIEWER)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Recorder:
    """The dispatch boundary: records hand-overs, optionally held until `release` is set."""

    def __init__(self, hold: bool = False) -> None:
        self.calls: list[Command] = []
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def __call__(self, command: Command) -> None:
        self.calls.append(command)
        await self.release.wait()


def book(dispatch=None, audit=None, **kw) -> CommandBook:
    return CommandBook(KINDS.get, dispatch or Recorder(), audit or MemoryAuditSink(), **kw)


def req(key="k1", ids=("lgt-1",), action=Action.LIGHT_DIM, level=40, **kw) -> CommandRequest:
    return CommandRequest(key, tuple(ids), action, Params(level_percent=level, **kw.pop("params", {})), **kw)


# --- the action table and validation ---------------------------------------------------------------


def test_action_table_critical_kinds_and_params():
    critical = {a for a, s in ACTIONS.items() if s.critical}
    assert critical == {
        Action.SIGNAL_FLASHING,
        Action.BOLLARD_RAISE,
        Action.BOLLARD_LOWER,
        Action.ACCESS_LOCK,
    }
    assert set(ACTIONS) == set(Action) and all(s.label for s in ACTIONS.values())
    assert ACTIONS[Action.LIGHT_DIM].params == ("level_percent",)
    assert ACTIONS[Action.BADGE_GRANT_TEMPORARY].params == ("badge_id", "until")
    assert ACTIONS[Action.CAMERA_GOTO_PRESET].kinds == (Kind.CAMERA,)


NOW = time.time()
CASES = [
    (req(key=""), "idempotency_key is required"),
    (req(key="x" * 129), "idempotency_key is 129 characters (at most 128)"),
    (req(ids=()), "asset_ids is empty"),
    (req(ids=[f"lgt-{i}" for i in range(501)]), "asset_ids has 501 entries (at most 500)"),
    (req(ids=("lgt-1", "nope", "gone")), "unknown asset ids: 'nope', 'gone'"),
    (req(ids=("lgt-1", "lgt-1")), "asset ids listed more than once: 'lgt-1'"),
    (req(action=None), "action is missing or unknown"),
    (req(level=0), "level_percent must be 1..100 for LIGHT_DIM (got 0)"),
    (req(level=101), "level_percent must be 1..100"),
    (req(ids=("acc-1",), action=Action.BADGE_DEACTIVATE), "badge_id is required for BADGE_DEACTIVATE"),
    (
        req(ids=("acc-1",), action=Action.BADGE_DEACTIVATE, params={"badge_id": "B 1;drop"}),
        "badge_id 'B 1;drop' is not valid",
    ),
    (
        req(ids=("acc-1",), action=Action.BADGE_GRANT_TEMPORARY, params={"badge_id": "B-1"}),
        "until is required for BADGE_GRANT_TEMPORARY",
    ),
    (
        req(
            ids=("acc-1",), action=Action.BADGE_GRANT_TEMPORARY, params={"badge_id": "B-1", "until": NOW - 60}
        ),
        "must be in the future",
    ),
    (
        req(
            ids=("acc-1",),
            action=Action.BADGE_GRANT_TEMPORARY,
            params={"badge_id": "B-1", "until": NOW + 8 * 86400},
        ),
        "must be within 7 days",
    ),
    (req(ids=("cam-1",), action=Action.CAMERA_GOTO_PRESET), "preset must be 1 or more"),
    (req(ids=("sig-1",), action=Action.SIGNAL_FLASHING, reason="storm"), "the user must confirm it"),
    (req(ids=("bol-1",), action=Action.BOLLARD_RAISE, confirmed=True), "a reason is required"),
    (req(ids=("bol-1",), action=Action.BOLLARD_RAISE, confirmed=True, reason="   "), "a reason is required"),
    (req(reason="r" * 501), "reason is 501 characters (at most 500)"),
]


@pytest.mark.parametrize(("request_", "reason"), CASES, ids=[c[1][:40] for c in CASES])
def test_invalid_requests_say_why_and_leave_one_invalid_record(request_, reason):
    audit = MemoryAuditSink()
    b = book(audit=audit)
    with pytest.raises(CommandInvalid) as err:
        asyncio.run(b.execute(request_, SUPERVISOR))
    assert reason in str(err.value)
    assert [(e.action, e.result) for e in audit.entries] == [("command.execute", "invalid")]
    assert reason in audit.entries[0].detail
    assert len(b) == 0  # an invalid attempt does not take the key


def test_every_reason_is_given_at_once():
    with pytest.raises(CommandInvalid) as err:
        asyncio.run(book().execute(req(key="", ids=("nope",), level=0), OPERATOR))
    assert len(err.value.reasons) == 3


def test_valid_critical_request_from_a_supervisor():
    r = req(ids=("bol-1",), action=Action.BOLLARD_RAISE, reason="market day", confirmed=True)
    cmd, replayed = asyncio.run(book().execute(r, SUPERVISOR))
    assert not replayed and cmd.stage("bol-1") is Stage.ACCEPTED and cmd.user == "sam"


def test_targets_the_action_does_not_fit_are_rejected_not_sent():
    recorder = Recorder()
    cmd, _ = asyncio.run(book(recorder).execute(req(ids=("lgt-1", "sig-1", "wat-1")), OPERATOR))
    assert [t.stage for t in cmd.targets] == [Stage.ACCEPTED, Stage.REJECTED, Stage.REJECTED]
    assert cmd.targets[1].detail == "LIGHT_DIM does not fit a traffic signal (it is for street lights)"
    assert not cmd.done and len(recorder.calls) == 1


def test_params_the_action_does_not_use_are_ignored():
    cmd, _ = asyncio.run(book().execute(req(action=Action.LIGHT_ON, level=55), OPERATOR))
    assert cmd.params == Params()


# --- roles -------------------------------------------------------------------------------------------


def test_critical_below_supervisor_is_denied_and_audited():
    audit = MemoryAuditSink()
    b = book(audit=audit)
    r = req(ids=("acc-1",), action=Action.ACCESS_LOCK, reason="intrusion", confirmed=True)
    with pytest.raises(CommandDenied, match="needs the SUPERVISOR role"):
        asyncio.run(b.execute(r, OPERATOR))
    with pytest.raises(CommandDenied, match="need the OPERATOR role"):
        asyncio.run(b.execute(req(), VIEWER))
    assert [e.result for e in audit.entries] == ["denied", "denied"]
    assert audit.entries[0].target == "acc-1" and audit.entries[0].reason == "intrusion"
    assert audit.entries[0].user == "olivia" and audit.entries[0].console == "desk-1"


# --- idempotency ---------------------------------------------------------------------------------------


def test_retry_with_the_same_key_replays_and_acts_once():
    audit = MemoryAuditSink()
    recorder = Recorder()
    b = book(recorder, audit)

    async def scenario():
        first, r1 = await b.execute(req(), OPERATOR)
        again, r2 = await b.execute(req(), OPERATOR)
        return first, r1, again, r2

    first, r1, again, r2 = asyncio.run(scenario())
    assert again is first and (r1, r2) == (False, True)
    assert len(recorder.calls) == 1
    assert [(e.action, e.result) for e in audit.entries] == [("command.execute", "ok")]
    assert audit.entries[0].detail == f"{first.id}: LIGHT_DIM (dimmed to 40 %)"


def test_concurrent_calls_with_one_key_get_one_command():
    """The retry arrives while the first call is still handing the command over."""
    audit = MemoryAuditSink()
    recorder = Recorder(hold=True)
    b = book(recorder, audit)

    async def scenario():
        calls = [asyncio.create_task(b.execute(req(), OPERATOR)) for _ in range(5)]
        while not recorder.calls:  # the first call is in flight, held in dispatch
            await asyncio.sleep(0)
        for _ in range(10):
            await asyncio.sleep(0)
        assert not any(c.done() for c in calls)  # nobody answered before the hand-over
        recorder.release.set()
        return await asyncio.gather(*calls)

    results = asyncio.run(scenario())
    assert len({id(cmd) for cmd, _ in results}) == 1
    assert sorted(replayed for _, replayed in results) == [False, True, True, True, True]
    assert len(recorder.calls) == 1 and len(audit.entries) == 1


def test_a_caller_that_goes_away_does_not_stop_the_hand_over():
    recorder = Recorder(hold=True)
    b = book(recorder)

    async def scenario():
        first = asyncio.create_task(b.execute(req(), OPERATOR))
        while not recorder.calls:
            await asyncio.sleep(0)
        first.cancel()  # the client's deadline
        recorder.release.set()
        cmd, replayed = await b.execute(req(), OPERATOR)
        assert cmd.dispatched is not None and cmd.dispatched.done() and not cmd.dispatched.cancelled()
        return replayed

    assert asyncio.run(scenario()) is True
    assert len(recorder.calls) == 1


def test_same_key_different_request_is_invalid():
    audit = MemoryAuditSink()
    b = book(audit=audit)

    async def scenario():
        cmd, _ = await b.execute(req(level=40), OPERATOR)
        with pytest.raises(
            CommandInvalid, match=f"already used for a different request \\(command {cmd.id}\\)"
        ):
            await b.execute(req(level=50), OPERATOR)
        with pytest.raises(CommandInvalid, match="different request"):
            await b.execute(req(level=40, reason="other reason"), OPERATOR)
        # Same meaning, listed in another order: a retry.
        _, replayed = await b.execute(req(ids=("lgt-2", "lgt-1"), key="k2"), OPERATOR)
        again, replayed2 = await b.execute(req(ids=("lgt-1", "lgt-2"), key="k2"), OPERATOR)
        return replayed, replayed2

    assert asyncio.run(scenario()) == (False, True)
    assert [e.result for e in audit.entries] == ["ok", "invalid", "invalid", "ok"]


def test_keys_belong_to_their_user():
    recorder = Recorder()
    b = book(recorder)

    async def scenario():
        a, _ = await b.execute(req(), OPERATOR)
        c, replayed = await b.execute(req(), Principal("otto", Role.OPERATOR))
        return a, c, replayed

    a, c, replayed = asyncio.run(scenario())
    assert a is not c and not replayed and len(recorder.calls) == 2


def test_keys_are_remembered_an_hour_then_forgotten():
    mono = Clock()
    recorder = Recorder()
    b = book(recorder, monotonic=mono)

    async def scenario():
        first, _ = await b.execute(req(), OPERATOR)
        mono.t += 3599
        again, replayed = await b.execute(req(), OPERATOR)
        assert again is first and replayed and b.get(first.id) is first
        mono.t += 2
        with pytest.raises(UnknownCommand):
            b.get(first.id)
        fresh, replayed = await b.execute(req(), OPERATOR)
        assert fresh is not first and not replayed

    asyncio.run(scenario())
    assert len(recorder.calls) == 2 and len(b) == 1


def test_the_book_is_bounded_by_commands_and_targets():
    b = book(max_commands=3, max_targets=1000)

    async def scenario():
        cmds = [(await b.execute(req(key=f"k{i}"), OPERATOR))[0] for i in range(5)]
        assert len(b) == 3
        with pytest.raises(UnknownCommand):
            b.get(cmds[1].id)
        assert b.get(cmds[4].id) is cmds[4]

    asyncio.run(scenario())

    b = book(max_targets=3)

    async def by_targets():
        await b.execute(req(key="a", ids=("lgt-1", "lgt-2")), OPERATOR)
        await b.execute(req(key="b", ids=("lgt-1", "lgt-2")), OPERATOR)
        assert len(b) == 1

    asyncio.run(by_targets())


# --- progress ------------------------------------------------------------------------------------------


def test_watch_gives_the_status_then_every_change_until_done():
    async def scenario():
        cmd, _ = await book().execute(req(ids=("lgt-1", "lgt-2")), OPERATOR)
        seen = []

        async def watch():
            async for snap in cmd.watch():
                seen.append([t.stage for t in snap.targets])

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0)
        cmd.advance("lgt-1", Stage.ACKNOWLEDGED, "ok")
        cmd.advance("lgt-2", Stage.TIMED_OUT, "silent")
        cmd.advance("lgt-1", Stage.CONFIRMED, "dimmed to 40 %")
        await asyncio.wait_for(watcher, 5)
        with pytest.raises(ValueError, match="confirmed cannot become failed"):
            cmd.advance("lgt-1", Stage.FAILED, "late")
        late = [s async for s in cmd.watch()]
        return seen, late

    seen, late = asyncio.run(scenario())
    A, K, C, T = Stage.ACCEPTED, Stage.ACKNOWLEDGED, Stage.CONFIRMED, Stage.TIMED_OUT
    assert seen == [[A, A], [K, A], [K, T], [C, T]]
    assert len(late) == 1 and late[0].done


def test_stages_only_go_forward():
    async def scenario():
        cmd, _ = await book().execute(req(), OPERATOR)
        with pytest.raises(ValueError):
            cmd.advance("lgt-1", Stage.CONFIRMED, "skipped the acknowledgement")
        with pytest.raises(ValueError):
            cmd.advance("lgt-1", Stage.REJECTED, "too late to reject")

    asyncio.run(scenario())


def test_badge_lists_show_grants_to_the_second():
    until = 1_900_000_000.4
    a = Asset("acc-1", Kind.ACCESS_POINT, "door", "", 0, 0, attributes={})
    a.attributes["temporary_access"] = "B-2 until 2030-03-17T17:46:40Z, bad entry"
    assert parse_grants(a.attributes["temporary_access"]) == {"B-2": 1_900_000_000.0}
    assert shows(Action.BADGE_GRANT_TEMPORARY, Params(badge_id="B-2", until=until), a)
    assert not shows(Action.BADGE_GRANT_TEMPORARY, Params(badge_id="B-3", until=until), a)


# --- with the simulated devices and the dispatcher -------------------------------------------------------


def city_book(failure_rate=0.0, ack_timeout_s=5.0):
    store = AssetStore()
    sim = CitySimulator(seed=7, lights=1000, vehicles=0, events=False, command_failure_rate=failure_rate)
    sim.begin(store, time.time())
    audit = MemoryAuditSink()
    dispatcher = CommandDispatcher(store, sim, audit, ack_timeout_s=ack_timeout_s)
    b = CommandBook(lambda i: a.kind if (a := store.get(i)) else None, dispatcher.dispatch, audit)
    return store, sim, dispatcher, b, audit


def pick(store: AssetStore, kind: Kind, status: Status = Status.OK) -> Asset:
    return next(a for a in store.assets() if a.kind is kind and a.status is status)


async def until_done(cmd: Command) -> None:
    async def wait():
        async for _ in cmd.watch():
            pass

    await asyncio.wait_for(wait(), 20)


def test_concurrent_same_key_on_the_simulated_city_acts_once():
    async def scenario():
        store, sim, dispatcher, b, audit = city_book()
        await dispatcher.start()
        light = pick(store, Kind.STREET_LIGHT)
        rev0 = store.revision
        r = req(ids=(light.id,), level=35)
        results = await asyncio.gather(*(b.execute(r, OPERATOR) for _ in range(3)))
        cmd = results[0][0]
        await until_done(cmd)
        # Let any second act (there must be none) land: the slowest light takes 0.5 + 1.0 s.
        assert not await store.wait_for_change(store.revision, 2.0)
        changes = [a for a in store.changes_after(rev0) if a.id == light.id]
        await dispatcher.stop()
        await sim.stop()
        return results, cmd, changes, audit

    results, cmd, changes, audit = asyncio.run(scenario())
    assert all(c is cmd for c, _ in results) and [r for _, r in results] == [False, True, True]
    assert cmd.targets[0].stage is Stage.CONFIRMED and cmd.targets[0].detail == "dimmed to 35 %"
    assert len(changes) == 1 and changes[0].attributes["level_pct"] == "35"
    assert changes[0].attributes["mode"] == "dimmed"
    assert [(e.action, e.result) for e in audit.entries] == [
        ("command.execute", "ok"),
        ("command.device_ack", "ok"),
    ]


def test_device_outcomes_and_their_audit_records():
    async def scenario():
        store, sim, dispatcher, b, audit = city_book(ack_timeout_s=1.0)
        await dispatcher.start()
        ok = pick(store, Kind.STREET_LIGHT)
        off = pick(store, Kind.STREET_LIGHT, Status.OFFLINE)
        bad = pick(store, Kind.STREET_LIGHT, Status.FAULT)
        cmd, _ = await b.execute(
            req(ids=(ok.id, off.id, bad.id, "sig-0001"), action=Action.LIGHT_OFF), OPERATOR
        )
        await until_done(cmd)
        await dispatcher.stop()
        await sim.stop()
        return cmd, audit, bad

    cmd, audit, bad = asyncio.run(scenario())
    stages = [(t.stage, t.detail) for t in cmd.targets]
    assert stages[0] == (Stage.CONFIRMED, "off")
    assert stages[1][0] is Stage.TIMED_OUT and "no acknowledgement within 1 s" in stages[1][1]
    assert stages[2] == (Stage.FAILED, f"device in fault: {bad.status_reason}")
    assert stages[3][0] is Stage.REJECTED
    acks = [e for e in audit.entries if e.action == "command.device_ack"]
    assert sorted((e.target, e.result) for e in acks) == sorted(
        [(cmd.targets[0].asset_id, "ok"), (cmd.targets[1].asset_id, "failed"), (bad.id, "failed")]
    )
    assert all(e.detail.startswith(cmd.id + ": ") for e in acks)


def test_failure_rate_one_makes_devices_refuse_with_a_reason():
    async def scenario():
        store, sim, dispatcher, b, audit = city_book(failure_rate=1.0)
        await dispatcher.start()
        lights = [a for a in store.assets() if a.kind is Kind.STREET_LIGHT and a.status is Status.OK][:3]
        rev0 = store.revision
        cmd, _ = await b.execute(req(ids=[a.id for a in lights], action=Action.LIGHT_ON), OPERATOR)
        await until_done(cmd)
        touched = [a for a in store.changes_after(rev0) if a.id in {x.id for x in lights}]
        await dispatcher.stop()
        await sim.stop()
        return cmd, touched

    cmd, touched = asyncio.run(scenario())
    assert all(t.stage is Stage.FAILED for t in cmd.targets)
    assert all(t.detail in ("lamp driver not answering", "circuit controller busy") for t in cmd.targets)
    assert touched == []

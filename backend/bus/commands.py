"""Command dispatch to devices runs on the leader: a replica that is not the leader sends each
device command to it over the bus (request/reply) and returns its answer, so a command reaches
the one device network that runs (the leader's) whichever replica the console called.

`ClusterNetwork` wraps a replica's device network: everything else is the network's own; its
start and stop (run when the lease is gained and lost) also start and stop answering commands.
The leader keeps its recent answers by command id and device, so a command sent again (a retry
after a lost reply, or during a failover) is answered without acting twice on any device."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from vigie.backend.adapters.base import DeviceAnswer, DeviceCommand, DeviceNetwork
from vigie.backend.domain.actions import Action, Params

log = logging.getLogger(__name__)

SUBJECT = "vigie-leader.command"
REQUEST_TIMEOUT_S = 8.0  # the default: a replica passes its dispatcher's acknowledgement time
ANSWERS_KEPT = 10_000


def encode_command(c: DeviceCommand) -> bytes:
    return json.dumps(
        {
            "id": c.command_id,
            "asset": c.asset_id,
            "action": c.action.value,
            "params": dataclasses.asdict(c.params),
        }
    ).encode()


def decode_command(data: bytes) -> DeviceCommand:
    """Raises ValueError for anything that is not a command."""
    try:
        d = json.loads(data)
        return DeviceCommand(str(d["id"]), str(d["asset"]), Action(d["action"]), Params(**d["params"]))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a command: {exc!r}") from exc


class ClusterNetwork:
    """A replica's device network, with commands relayed to the leader (see the module)."""

    def __init__(
        self, network: DeviceNetwork, nc: Client, leading: Any, request_timeout_s: float = REQUEST_TIMEOUT_S
    ) -> None:
        """`leading()` says whether this replica leads now. `request_timeout_s`: how long a relayed
        command may wait for the leader's answer; at least the dispatcher's acknowledgement time
        (`--command-ack-timeout`), or a follower would report a command failed that the leader
        still carries out when its device answers late (a loaded machine, a settling MQTT link)."""
        self._timeout_s = request_timeout_s
        self._network = network
        self._nc = nc
        self._leading = leading
        self._sub: Subscription | None = None
        self._started = asyncio.Event()  # the network runs here: commands may act
        self._pending: set[asyncio.Task[None]] = set()
        # By (command id, device id): a command sent again acts once on each of its devices.
        self._running: dict[tuple[str, str], asyncio.Future[DeviceAnswer]] = {}
        self._answers: OrderedDict[tuple[str, str], DeviceAnswer] = OrderedDict()
        self._began = 0.0  # monotonic: this replica's network started (a takeover's timeline)
        self._first_logged = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._network, name)

    @property
    def inner(self) -> DeviceNetwork:
        """The wrapped network (the crews find the simulator in it: backend/dispatch_sim.py)."""
        return self._network

    async def start(self, store: Any) -> None:
        """Answer at once (no replica answering reads as no leader), acting once the network
        has started, or earlier when it says it takes commands (`commands_ready`, an
        asyncio.Event: an MQTT adapter's link is up and subscribed while its retained states
        still settle, which took 2-10 s of a failover: docs/cluster.md)."""
        self._began = time.monotonic()
        self._first_logged = False
        log.info("device network starting: this replica leads")
        self._sub = await self._nc.subscribe(SUBJECT, cb=self._serve)
        starting = asyncio.ensure_future(self._network.start(store))
        try:
            ready = getattr(self._network, "commands_ready", None)
            if isinstance(ready, asyncio.Event):
                waiter = asyncio.ensure_future(ready.wait())
                try:
                    await asyncio.wait((starting, waiter), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                if ready.is_set() and not starting.done():
                    self._started.set()
                    log.info(
                        "device network takes commands %.3f s after it began starting",
                        time.monotonic() - self._began,
                    )
            await starting
        except BaseException:
            starting.cancel()  # this start was cancelled (or failed): so is the network's
            self._started.clear()
            raise
        self._started.set()
        log.info("device network started in %.3f s", time.monotonic() - self._began)

    async def stop(self) -> None:
        self._started.clear()
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except nats.errors.Error as exc:
                log.warning("command relay: unsubscribe failed: %r", exc)
        await self._network.stop()

    async def command(self, command: DeviceCommand) -> DeviceAnswer:
        if self._leading():
            return await self._act(command)
        try:
            reply = await self._nc.request(SUBJECT, encode_command(command), timeout=self._timeout_s)
        except nats.errors.NoRespondersError:
            return DeviceAnswer(False, "no leader replica at the moment (one is being elected): try again")
        except nats.errors.TimeoutError:
            return DeviceAnswer(False, "the leader replica did not answer in time")
        d = json.loads(reply.data)
        return DeviceAnswer(bool(d["ok"]), str(d["detail"]))

    async def _act(self, command: DeviceCommand) -> DeviceAnswer:
        """Act once per command id: a resend gets the answer already given, or waits for the
        one in progress."""
        key = (command.command_id, command.asset_id)  # a command of many devices acts on each
        done = self._answers.get(key)
        if done is not None:
            return done
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        running = self._running[key] = asyncio.get_running_loop().create_future()
        try:
            entered = time.monotonic()
            await self._started.wait()
            sent = time.monotonic()
            answer = await self._network.command(command)
            if not self._first_logged:
                self._first_logged = True
                log.info(
                    "first command since this replica leads: came %.3f s after the network began"
                    " starting, waited %.3f s for it, device answered %.3f s later (%s)",
                    entered - self._began,
                    sent - entered,
                    time.monotonic() - sent,
                    "ok" if answer.ok else answer.detail,
                )
        except BaseException as exc:
            running.set_exception(exc)
            running.exception()  # retrieved: a resend that never came must not warn
            raise
        finally:
            del self._running[key]
        running.set_result(answer)
        self._answers[key] = answer
        while len(self._answers) > ANSWERS_KEPT:
            self._answers.popitem(last=False)
        return answer

    async def _serve(self, msg: Msg) -> None:
        """Each request in a task of its own: a command waiting for its device never holds up
        the next one."""
        task = asyncio.get_running_loop().create_task(self._answer(msg))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _answer(self, msg: Msg) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._act(decode_command(msg.data))
        except ValueError as exc:
            answer = DeviceAnswer(False, str(exc))
        except TimeoutError:
            return  # the sender has given up by now
        with contextlib.suppress(nats.errors.Error):
            await msg.respond(json.dumps({"ok": answer.ok, "detail": answer.detail}).encode())

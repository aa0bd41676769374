"""Dispatch on the bus (docs/cluster.md): one dispatch desk writes, the leader's; every replica
shows the same incidents and units.

* The leader's desk (backend/dispatch.py: its book of incidents, its board of units) publishes
  each change, acknowledged and fenced by the lease (backend/bus/acked.py): an incident's whole
  state into VIGIE_INCIDENTS (one subject per incident), a unit's into VIGIE_UNITS (one subject
  per unit), with `Nats-Msg-Id = <id>:<change number>` (the desk's number of that change), so a
  change sent again after a lost acknowledgement is stored once.
* Every replica follows both streams (backend/bus/view.py): their stream sequences number
  WatchIncidents and WatchUnits (epochs from the streams' identities), so a console resumes on any
  replica; each replica's incident store (incidents.sqlite3, or PostgreSQL) is its journal of
  them (ListIncidents), and a replica that does not lead mirrors them into its desk (what
  Recommend, routes and walls read).
* A new leader's desk takes over from the views (`DispatchDesk.reset`): the same incidents and
  units, new ids above every id the stream holds, change numbers after the last one; its crews
  and the city's incidents (backend/dispatch_sim.py) then carry on the incidents under way.
* Writes given to any replica (create, update, note, step, assign, unit status) are applied by
  the leader's desk (`DispatchRelay`, `vigie-leader.dispatch`, backend/bus/relay.py), and answered
  once the asking replica's views have the change; while none leads they are refused
  (`DispatchUnavailable`, UNAVAILABLE) and nothing is done. The idempotency keys of CreateIncident
  and Assign are kept in the KV bucket `vigie_dispatch_keys` (a day), so a retry acts once
  whichever replica leads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from vigie.backend.bus.acked import Outgoing, QueuedPublisher
from vigie.backend.bus.connection import (
    INCIDENTS_STREAM,
    INCIDENTS_SUBJECT,
    UNITS_STREAM,
    UNITS_SUBJECT,
    Bus,
)
from vigie.backend.bus.relay import LeaderRelay
from vigie.backend.bus.view import NumberedView
from vigie.backend.dispatch import DispatchDesk, DispatchUnavailable
from vigie.backend.domain.incidents import RECENT_S, Incident, IncidentStatus
from vigie.backend.domain.units import Unit
from vigie.backend.store.incidents_sqlite import (
    incident_from_json,
    incident_to_json,
    unit_from_json,
    unit_to_json,
)

log = logging.getLogger(__name__)

SUBJECT = "vigie-leader.dispatch"
KEYS_BUCKET = "vigie_dispatch_keys"
KEY_TTL_S = 24 * 3600.0
REQUEST_TIMEOUT_S = 15.0  # an assignment computes routes on the leader
SEEN_TIMEOUT_S = 5.0  # how long the asking replica waits for its views to show the change
SEND_BATCH = 2000  # changes per round of acknowledgements at most
PUBLISH_QUEUE = 100_000  # changes waiting to go out
COMPRESS_ABOVE = 16 * 1024  # an incident with a long timeline goes out zlib-compressed
MAX_MESSAGE = 900 * 1024  # below NATS's default 1 MB payload
MAX_REQUEST = 256 * 1024  # a relayed request (the gRPC bounds keep real ones far below)


def _token(text: str) -> str:
    """A subject token (or KV key) for any id (vehicle ids may hold dots or spaces)."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def pack(text: str) -> bytes:
    data = text.encode()
    return zlib.compress(data, 6) if len(data) > COMPRESS_ABOVE else data


def unpack(data: bytes) -> str:
    return (data if data[:1] == b"{" else zlib.decompress(data)).decode()


def incident_number(incident_id: str) -> int:
    try:
        return int(incident_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


# --- the views ---------------------------------------------------------------------------------------


class IncidentView(NumberedView[Incident]):
    """The incidents as the stream has them, numbered by its sequence; WatchIncidents reads it
    like an IncidentBook (live, get, sequence, changes_after...)."""

    stream = INCIDENTS_STREAM
    subject = INCIDENTS_SUBJECT
    what = "incident"

    def __init__(self, epoch: str, history: int = 20_000) -> None:
        super().__init__(epoch, history)
        self.next_id = 1  # above every incident id the stream holds
        self._live: dict[str, Incident] = {}

    def get(self, incident_id: str) -> Incident | None:
        return self._live.get(incident_id)

    def all(self) -> list[Incident]:
        return list(self._live.values())

    def live(self, now: float) -> list[Incident]:
        """Open incidents and those closed in the last RECENT_S, oldest first (the snapshot)."""
        old = [
            k
            for k, i in self._live.items()
            if i.status is IncidentStatus.CLOSED and now - i.closed_at > RECENT_S
        ]
        for k in old:
            del self._live[k]
        return sorted(self._live.values(), key=lambda i: (i.created_at, i.id))

    def decode(self, msg: Msg, seq: int) -> Incident | None:
        inc = incident_from_json(unpack(msg.data))
        self.last_change = max(self.last_change, inc.sequence)
        inc.sequence = seq
        return inc

    def index(self, item: Incident) -> None:
        self._live[item.id] = item
        self.next_id = max(self.next_id, incident_number(item.id) + 1)


class UnitView(NumberedView[Unit]):
    """The units as the stream has them; WatchUnits and ListUnits read it like a UnitBoard."""

    stream = UNITS_STREAM
    subject = UNITS_SUBJECT
    what = "unit"

    def __init__(self, epoch: str, history: int = 20_000) -> None:
        super().__init__(epoch, history)
        self._units: dict[str, Unit] = {}

    def get(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id)

    def units(self) -> list[Unit]:
        """Every unit, by callsign (as UnitBoard.units)."""
        return sorted(self._units.values(), key=lambda u: (u.fleet != "police", u.callsign))

    def decode(self, msg: Msg, seq: int) -> Unit | None:
        unit = unit_from_json(unpack(msg.data))
        self.last_change = max(self.last_change, unit.sequence)
        unit.sequence = seq
        return unit

    def index(self, item: Unit) -> None:
        self._units[item.id] = item


# --- the leader's writes -------------------------------------------------------------------------------


class DispatchRelay(LeaderRelay):
    """Writes applied by the leader's desk: `execute(request)` (the services' own code, set by
    backend/services/dispatch_relay.py) runs there and its answer carries the desk's change
    numbers; the asking replica then waits until its views have them (`seen`)."""

    def __init__(self, on_bus: DispatchOnBus) -> None:
        super().__init__(on_bus.bus.nc, SUBJECT, DispatchUnavailable, REQUEST_TIMEOUT_S)
        self.on_bus = on_bus
        self.execute: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
        self.applied = 0  # writes this replica's desk applied (as the leader)

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """The leader's answer to a write, once this replica's views have its change."""
        if len(json.dumps(request)) > MAX_REQUEST:
            return {"error": "INVALID_ARGUMENT", "detail": f"request larger than {MAX_REQUEST} bytes"}
        answer = await self.ask(request)
        if not answer.get("error"):
            await self.seen(int(answer.get("incidents", 0)), int(answer.get("units", 0)))
        return answer

    async def seen(self, incidents: int, units: int) -> None:
        for view, change in ((self.on_bus.incidents, incidents), (self.on_bus.units, units)):
            if not await view.wait_for_change_number(change, SEEN_TIMEOUT_S):
                raise DispatchUnavailable(
                    "the leader applied it but the bus has not confirmed it in time (it may be electing"
                    " a new leader): check before trying again"
                )

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        desk = self.on_bus.desk
        if self.execute is None or not self.on_bus.leading:
            return {"error": "UNAVAILABLE", "detail": "this replica does not lead"}
        try:
            answer = await self.execute(request)
        except Exception as exc:  # a bug: said here, and the asker told rather than left waiting
            log.exception("relayed dispatch write %s failed", str(request.get("rpc"))[:64])
            return {"error": "INTERNAL", "detail": f"the leader failed: {type(exc).__name__}"}
        if not answer.get("error"):
            self.applied += 1
        answer["incidents"] = desk.book.sequence
        answer["units"] = desk.board.sequence
        return answer


class DispatchOnBus:
    """A replica's dispatch on the bus (see the module): `follow()` before the lease is competed
    for, `lead()` when it is gained (before the crews start), `step_down()` when it is lost
    (after they stopped), `stop()` at the end."""

    def __init__(
        self, bus: Bus, may_publish: Callable[[], bool], desk: DispatchDesk, replicas: int = 1
    ) -> None:
        """`replicas`: copies of the key bucket (as of every stream, --bus-replicas)."""
        self.bus = bus
        self.replicas = replicas
        self.may_publish = may_publish
        self.desk = desk
        self.leading = False
        self.incidents = IncidentView(bus.epochs[INCIDENTS_STREAM], desk.history)
        self.units = UnitView(bus.epochs[UNITS_STREAM], desk.history)
        self.relay = DispatchRelay(self)
        self.keys: KeyValue | None = None
        self.publisher = QueuedPublisher(bus.nc, may_publish, "dispatch", SEND_BATCH, PUBLISH_QUEUE)
        self.incidents.listener = self._on_incidents
        self.units.listener = self._on_units
        desk.book.epoch = self.incidents.epoch
        desk.board.epoch = self.units.epoch
        desk.book.listener = self._publish_incidents
        desk.board.listener = self._publish_units

    async def follow(self) -> None:
        """The incidents and units as the bus has them, before this replica may lead."""
        self.keys = await self.bus.js.create_key_value(
            KeyValueConfig(
                bucket=KEYS_BUCKET,
                history=1,
                ttl=KEY_TTL_S,
                storage=StorageType.FILE,
                replicas=self.replicas,
            )
        )
        for view in (self.incidents, self.units):
            try:
                await view.follow(self.bus.js)
            except TimeoutError as exc:
                raise OSError(f"the bus did not give this replica the {view.what}s in time: {exc!r}") from exc
        self._reset()

    async def stop(self) -> None:
        if self.leading and not await self.publisher.drain(2.0):
            log.warning("stopping: the desk's last changes were not all sent")
        await self.step_down()
        for view in (self.incidents, self.units):
            await view.stop()

    # --- leadership -----------------------------------------------------------------------------------

    async def lead(self) -> None:
        """This replica leads: its desk takes the incidents and units over as the bus has them,
        adds the fleet's vehicles not yet units, and applies the cluster's writes. Until its views
        have the whole streams it waits (it would start from an older state): the bus in trouble
        is tried again every second meanwhile."""
        while True:
            try:
                for view in (self.incidents, self.units):
                    await view.catch_up(self.bus.js, 10.0)
                break
            except Exception as exc:  # the bus away or slow: dispatch waits, the devices do not
                log.warning("dispatch waits for the incident streams: %r", exc)
                await asyncio.sleep(1.0)
        self._reset()
        await self.publisher.start()
        self.leading = True
        self.desk.add_fleet()
        await self.relay.serve()
        log.warning(
            "dispatch desk runs here: %d incidents and %d units taken over, next incident id %d",
            len(self.incidents.all()),
            len(self.units.units()),
            self.incidents.next_id,
        )

    async def step_down(self) -> None:
        """This replica no longer leads: what waits to go out is dropped (the next leader starts
        from the bus) and the desk mirrors the bus again."""
        await self.relay.stop_serving()
        self.leading = False
        await self.publisher.stop()
        self._reset()

    def _reset(self) -> None:
        self.desk.reset(
            self.incidents.all(),
            self.units.units(),
            self.incidents.last_change,
            self.units.last_change,
            self.incidents.next_id,
        )

    # --- from the streams -----------------------------------------------------------------------------

    def _on_incidents(self, items: list[Incident]) -> None:
        self.desk.store.queue_incidents(items)  # the replica's journal (ListIncidents)
        if not self.leading:
            self.desk.mirror(items, [])

    def _on_units(self, items: list[Unit]) -> None:
        self.desk.store.queue_units(items)
        if not self.leading:
            self.desk.mirror([], items)

    # --- idempotency keys -----------------------------------------------------------------------------

    async def key_get(self, user: str, kind: str, key: str) -> tuple[str, str, float] | None:
        """(fingerprint, result, time) of a write already made with this key, by any leader
        (raises when the bus cannot say: the write is then refused, not made twice)."""
        if self.keys is None:
            return None
        try:
            entry = await self.keys.get(_token(f"{user}\n{kind}\n{key}"))
        except nats.js.errors.KeyNotFoundError:
            return None
        d = json.loads(entry.value or b"{}")
        return str(d["fingerprint"]), str(d["result"]), float(d["time"])

    async def key_put(
        self, user: str, kind: str, key: str, fingerprint: str, result: str, now: float
    ) -> None:
        if self.keys is None:
            return
        value = json.dumps({"fingerprint": fingerprint, "result": result, "time": now}).encode()
        try:
            await self.keys.put(_token(f"{user}\n{kind}\n{key}"), value)
        except Exception as exc:  # the write is made: its key stays with this leader only
            log.warning("idempotency key %s/%s not kept on the bus: %r", kind, key[:64], exc)

    # --- to the streams -------------------------------------------------------------------------------

    def _publish_incidents(self, changes: list[Incident]) -> None:
        self._enqueue(
            [(f"{INCIDENTS_SUBJECT}.{i.id}", incident_to_json(i), f"{i.id}:{i.sequence}") for i in changes]
        )

    def _publish_units(self, changes: list[Unit]) -> None:
        self._enqueue(
            [(f"{UNITS_SUBJECT}.{_token(u.id)}", unit_to_json(u), f"{u.id}:{u.sequence}") for u in changes]
        )

    def _enqueue(self, changes: list[tuple[str, str, str]]) -> None:
        """Called by the desk, synchronously, with the states of one change (subject, JSON, id)."""
        out = []
        for subject, text, msg_id in changes:
            data = pack(text)
            if len(data) > MAX_MESSAGE:
                log.error("dispatch: %s is %d bytes, over %d: not sent", subject, len(data), MAX_MESSAGE)
                self.publisher.dropped += 1
                continue
            out.append(Outgoing(subject, data, msg_id))
        self.publisher.put(out)

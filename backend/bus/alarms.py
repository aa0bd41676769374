"""Alarms on the bus: the leader's alarm engine publishes each change into the stream
VIGIE_ALARMS (`AlarmPublisher`); every replica, the leader included, follows that stream into an
`AlarmView` and serves WatchAlarms, ListAlarms and the journal from it.

A change's number on the bus is its stream sequence: the same change has the same sequence on
every replica, and the view's epoch is derived from the stream's identity
(backend/bus/connection.py), so a console's alarm resume point is valid on every replica. Each
message is the whole alarm (one subject per alarm, `vigie-alarms.<id>`) with the engine's own
number of the change in its `sequence` field (the view keeps it as `last_change`, and renumbers
the alarm by the stream); its `Nats-Msg-Id` is `<alarm id>:<that number>`, so a change sent again
after a lost acknowledgement is stored once. A new leader's engine starts from the view
(`AlarmEngine.reload`): the same ids, open alarms, next id and change numbers after the last one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

from vigie.backend.bus.acked import Outgoing, QueuedPublisher
from vigie.backend.bus.connection import ALARMS_STREAM, ALARMS_SUBJECT
from vigie.backend.bus.view import NumberedView
from vigie.backend.domain.alarms import Alarm
from vigie.backend.store.alarms_sqlite import alarm_from_json, alarm_to_json

log = logging.getLogger(__name__)

FETCH = 1000  # alarm states per pull
SEND_BATCH = 2000  # alarm states per round of acknowledgements at most
PUBLISH_QUEUE = 100_000  # changes waiting to go out


def alarm_number(alarm_id: str) -> int:
    """The number in an id "alm-000123" (0 for an id of another form)."""
    try:
        return int(alarm_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


class AlarmView(NumberedView[Alarm]):
    """The cluster's alarms as the stream has them: the open ones, and the recent changes
    numbered by stream sequence. It reads like an `AlarmEngine` (open_alarms, get, sequence,
    changes_after, wait_for_change, epoch, oldest_available) and is never written to except by
    the stream. `listener` sees every state applied (the replica's journal).

    A replica that starts loads the last state of every alarm, then follows, checking each
    sequence (backend/bus/view.py): its history begins there (a console resuming from before gets
    ResyncNeeded)."""

    stream = ALARMS_STREAM
    subject = ALARMS_SUBJECT
    what = "alarm"
    fetch = FETCH

    def __init__(self, epoch: str, history: int = 100_000) -> None:
        super().__init__(epoch, history)
        self.next_id = 1  # above every alarm id the stream holds
        self._open: dict[str, Alarm] = {}
        self._by_source: dict[str, str] = {}

    # --- what the services read -----------------------------------------------------------------------

    def open_alarms(self) -> list[Alarm]:
        return list(self._open.values())

    def get(self, alarm_id: str) -> Alarm | None:
        return self._open.get(alarm_id)

    def open_for(self, source_key: str) -> Alarm | None:
        i = self._by_source.get(source_key)
        return None if i is None else self._open[i]

    # --- from the stream ------------------------------------------------------------------------------

    def decode(self, msg: Msg, seq: int) -> Alarm | None:
        alarm = alarm_from_json(msg.data.decode())
        self.last_change = max(self.last_change, alarm.sequence)
        alarm.sequence = seq
        return alarm

    def index(self, a: Alarm) -> None:
        self.next_id = max(self.next_id, alarm_number(a.id) + 1)
        if a.closed:
            self._open.pop(a.id, None)
            if self._by_source.get(a.source_key) == a.id:
                del self._by_source[a.source_key]
        else:
            self._open[a.id] = a
            self._by_source[a.source_key] = a.id


class AlarmPublisher(QueuedPublisher):
    """The leader engine's listener: each change goes out to the stream, acknowledged, in order,
    while `may_publish()` (the lease's fence) holds. A change not acknowledged in time is sent
    again with the same id, as the last state of its alarm in the batch; a replica that does not
    lead drops what it would send (the leader's changes are the cluster's)."""

    def __init__(self, nc: Client, may_publish: Callable[[], bool]) -> None:
        super().__init__(nc, may_publish, "alarm", SEND_BATCH, PUBLISH_QUEUE)

    def publish(self, changes: list[Alarm]) -> None:
        """Called by the engine, synchronously, with the states of one change."""
        self.put(
            [
                Outgoing(f"{ALARMS_SUBJECT}.{a.id}", alarm_to_json(a).encode(), f"{a.id}:{a.sequence}")
                for a in changes
            ]
        )

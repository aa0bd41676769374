"""One MQTT connection that stays up: reconnects with backoff, subscribes again, and delivers every
queued message at least once (QoS 1, kept until the broker's PUBACK).

Used by the backend's adapter and by every simulated device connection. The session is persistent
(clean_session off, a fixed client id), so a broker that keeps its sessions (mosquitto with
`persistence true`) queues what arrives while this side is away. A message is taken off the outbox
only once acknowledged: one whose acknowledgement was lost is sent again, which is why every
payload is safe to receive twice (states carry `seq`, commands an id: docs/devices.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable

import aiomqtt

from vigie.backend.cancel import cancel_and_wait

log = logging.getLogger(__name__)

BACKOFF_S = (0.2, 10.0)  # first and longest wait between two connection attempts
PUBLISH_TIMEOUT_S = 10.0  # no PUBACK within this: the connection is taken for dead
WINDOW = 200  # messages in flight (sent, not yet acknowledged) per connection
SUBSCRIBE_BATCH = 500
SUBSCRIBE_TRIES = 5


def _refused(granted: object) -> bool:
    """A SUBACK entry that is a failure: 0x80 (MQTT 3.1.1) or a failure reason code (MQTT 5)."""
    is_failure = getattr(granted, "is_failure", None)
    if isinstance(is_failure, bool):
        return is_failure
    return isinstance(granted, int) and granted >= 0x80


MAX_OUTBOX = 200_000


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Doubling from BACKOFF_S[0] to BACKOFF_S[1], with +-25 % jitter so a fleet does not reconnect
    in step after a broker restart."""
    base = min(BACKOFF_S[1], BACKOFF_S[0] * 2 ** min(attempt, 16))
    return base * rng.uniform(0.75, 1.25)


class MqttLink:
    """`publish()` queues; a task connects, subscribes, reads into `on_message(topic, payload)`
    and drains the queue. `on_connect()` runs after each (re)connection and subscription."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        subscriptions: list[str],
        on_message: Callable[[str, bytes], None],
        on_connect: Callable[[], None] | None = None,
        max_outbox: int = MAX_OUTBOX,
        window: int = WINDOW,
        keepalive: int = 10,
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.subscriptions = list(subscriptions)
        self.on_message = on_message
        self.on_connect = on_connect
        self.max_outbox = max_outbox
        self.window = window
        self.keepalive = keepalive
        self.outbox: deque[tuple[str, bytes, bool]] = deque()
        self.connected = asyncio.Event()
        self.connections = 0  # successful connections (1 + reconnections)
        self.published = 0  # messages the broker acknowledged
        self.dropped = 0  # oldest messages dropped because the outbox was full
        self.received = 0
        self.retained = 0  # of them, retained messages (a subscription's first: the devices' states)
        # Monotonic times of the current session's steps (a takeover's timeline: docs/cluster.md).
        self.session_began = 0.0
        self.connected_at = 0.0  # CONNACK
        self.subscribed_at = 0.0  # every SUBACK in
        # Set before start() to discard what the broker kept for this client id from an earlier
        # life (a replica that led before: acknowledgements, badges, states queued since). The
        # next connection is clean, then the session is persistent again (docs/cluster.md).
        self.fresh_session = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._rng = random.Random(client_id)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Queue a QoS 1 message (the oldest one goes when the outbox is full, and is counted)."""
        if len(self.outbox) >= self.max_outbox:
            self.outbox.popleft()
            self.dropped += 1
        self.outbox.append((topic, payload, retain))
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"mqtt-{self.client_id}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)
        self.connected.clear()

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except (aiomqtt.MqttError, OSError) as exc:
                level = logging.INFO if attempt else logging.WARNING
                log.log(level, "MQTT %s at %s:%d: %s", self.client_id, self.host, self.port, exc)
            except Exception:  # a bug in a handler must not end the connection for good
                log.exception("MQTT %s: connection task failed", self.client_id)
            finally:
                was_up = self.connected.is_set()
                self.connected.clear()
            attempt = 0 if was_up else attempt + 1
            await asyncio.sleep(backoff_delay(attempt, self._rng))

    async def _subscribe(self, client: aiomqtt.Client, topics: list[str]) -> None:
        """Subscribe and check what the broker granted: a broker may refuse some filters in a
        SUBACK that arrives all the same (NATS's MQTT listener does when creating their JetStream
        consumers would pass its limit of QoS 1 subscriptions per session), and a device would
        then never hear its commands. Refused ones are asked again a few times, then reported as
        an error: starting the session over would not change the broker's mind."""
        for attempt in range(SUBSCRIBE_TRIES):
            granted = await client.subscribe([(t, 1) for t in topics])
            refused = [t for t, g in zip(topics, granted, strict=False) if _refused(g)]
            if len(granted) < len(topics):
                refused += topics[len(granted) :]
            if not refused:
                return
            log.warning(
                "MQTT %s: the broker refused %d of %d subscriptions (try %d): asking again",
                self.client_id,
                len(refused),
                len(topics),
                attempt + 1,
            )
            topics = refused
            await asyncio.sleep(backoff_delay(attempt, self._rng))
        log.error(
            "MQTT %s: the broker keeps refusing %d subscriptions (first: %s): what they carry will not"
            " arrive; check the broker's limits (NATS: mqtt max_ack_pending, docs/devices.md)",
            self.client_id,
            len(topics),
            topics[0],
        )

    async def _discard_session(self) -> None:
        """Connect once with a clean session: the broker drops the kept one and its queue."""
        async with aiomqtt.Client(self.host, self.port, identifier=self.client_id, clean_session=True):
            pass
        self.fresh_session = False
        log.info("MQTT %s: the session the broker kept was discarded", self.client_id)

    async def _session(self) -> None:
        if self.fresh_session:
            await self._discard_session()
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            clean_session=False,
            keepalive=self.keepalive,
            timeout=PUBLISH_TIMEOUT_S,
            max_inflight_messages=self.window,
        )
        client.pending_calls_threshold = 2 * self.window  # aiomqtt warns past it; our window bounds it
        self.session_began = time.monotonic()
        async with client:
            self.connected_at = time.monotonic()
            for i in range(0, len(self.subscriptions), SUBSCRIBE_BATCH):
                await self._subscribe(client, self.subscriptions[i : i + SUBSCRIBE_BATCH])
            self.subscribed_at = time.monotonic()
            log.info(
                "MQTT %s: connected in %.3f s, %d subscriptions granted %.3f s later",
                self.client_id,
                self.connected_at - self.session_began,
                len(self.subscriptions),
                self.subscribed_at - self.connected_at,
            )
            self.connections += 1
            self.connected.set()
            if self.on_connect is not None:
                self.on_connect()
            reader = asyncio.ensure_future(self._read(client))
            writer = asyncio.ensure_future(self._write(client))
            try:
                done, _ = await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (reader, writer):
                    t.cancel()
                for t in (reader, writer):
                    with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                        await t
            for t in done:
                t.result()  # raises why the connection ended

    async def _read(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            self.received += 1
            if m.retain:
                self.retained += 1
            payload = m.payload if isinstance(m.payload, bytes) else str(m.payload or "").encode()
            try:
                self.on_message(m.topic.value, payload)
            except Exception:  # one bad message must not drop the connection
                log.exception("MQTT %s: handling a message on %s failed", self.client_id, m.topic.value)
        raise aiomqtt.MqttError("the message stream ended")

    async def _write(self, client: aiomqtt.Client) -> None:
        while True:
            if not self.outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self.outbox.popleft() for _ in range(min(self.window, len(self.outbox)))]
            acked = [False] * len(batch)

            async def one(
                i: int, topic: str, payload: bytes, retain: bool, acked: list[bool] = acked
            ) -> None:
                await client.publish(topic, payload, qos=1, retain=retain, timeout=PUBLISH_TIMEOUT_S)
                acked[i] = True

            try:
                results = await asyncio.gather(
                    *(one(i, *m) for i, m in enumerate(batch)), return_exceptions=True
                )
            finally:  # cancelled or failed: what the broker did not acknowledge goes back first
                self.outbox.extendleft(reversed([m for m, ok in zip(batch, acked, strict=True) if not ok]))
                self.published += sum(acked)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise aiomqtt.MqttError(f"{len(errors)} of {len(batch)} publishes failed: {errors[0]}")

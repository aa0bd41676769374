"""Following a JetStream stream into a replica's own view: the last message of every subject first
(the load), then everything after, each batch handed to `take`. Used by every view of a stream
(backend/bus/view.py: the asset store, the alarms, the mode runs and access decisions)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

log = logging.getLogger(__name__)


async def follow_stream(
    js: JetStreamContext,
    stream: str,
    subject: str,
    fetch: int,
    synced: asyncio.Event,
    next_seq: Callable[[], int],
    take: Callable[[list[Msg]], bool],
) -> None:
    """Until cancelled: before `synced` is set, read the last message per subject, then from
    `next_seq()` on. `take(batch)` returns False to read again from the sequence it is missing;
    a consumer lost (the bus away, the stream electing a leader) is made again from there."""
    while True:
        if synced.is_set():
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=next_seq(),
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
            )
        else:  # the last state of every subject first, then everything after
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
            )
        try:
            sub = await js.pull_subscribe(f"{subject}.>", stream=stream, config=config)
            try:
                while True:
                    try:
                        msgs = await sub.fetch(fetch, timeout=1.0)
                    except TimeoutError:  # nothing new (nats-py raises its own or asyncio's):
                        continue  # the consumer is still there; making it again costs the server
                    if not take(msgs):
                        break  # read again from the missing sequence
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the bus away, the consumer gone: start again from here
            log.warning("following the stream %s: %r; again from %d", stream, exc, next_seq())
            await asyncio.sleep(0.5)

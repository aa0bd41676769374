"""vigie.v1.CardholderService: the directory, exceptions (audited) and access decisions live.

The decisions have their own stream rather than riding on WatchAlarms or WatchAssets: a granted
badge is neither an alarm nor a device state, decisions come at their own (high) rate, and the
operator filters them by door and person; the stream follows the same resume contract
(backend/services/resumable.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from vigie.backend.access_control import AccessControl, ExceptionInvalid, UnknownException
from vigie.backend.domain.access import AccessEvent, AccessRule
from vigie.backend.mode_engine import ModeUnavailable
from vigie.backend.security import principal
from vigie.backend.services.convert import clip, seconds_of, stamp
from vigie.backend.services.resumable import follow, resume_refusal, wait_until_at
from vigie.v1 import assets_pb2, modes_pb2, modes_pb2_grpc

DEFAULT_PAGE = 500
MAX_PAGE = 5000
DEFAULT_EVENTS = 200
DEFAULT_BATCH = 500
MAX_BATCH = 5000
RECENT = 200


def rule_to_pb(r: AccessRule) -> modes_pb2.AccessException:
    m = modes_pb2.AccessException(
        exception_id=r.exception_id,
        person_id=r.person_id,
        group=clip(r.group),
        buildings=[clip(b) for b in r.buildings],
        building_types=[clip(t) for t in r.building_types],
        note=clip(r.note),
        created_by=clip(r.created_by),
    )
    stamp(r.valid_from, m.valid_from)
    stamp(r.valid_until, m.valid_until)
    if r.created_at:
        stamp(r.created_at, m.created_at)
    return m


def event_to_pb(e: AccessEvent, out: modes_pb2.AccessEvent) -> None:
    out.sequence = e.sequence
    stamp(e.time, out.time)
    out.asset_id, out.building, out.building_type = e.asset_id, clip(e.building), clip(e.building_type)
    out.badge_id, out.person_id, out.person_name = e.badge_id, e.person_id, clip(e.person_name)
    out.group, out.granted, out.reason = clip(e.group), e.granted, clip(e.reason)
    out.exception_id, out.run_id, out.district = e.exception_id, e.run_id, clip(e.district)


def _token(n: int) -> str:
    return base64.urlsafe_b64encode(f"c:{n}".encode()).decode()


def _number(token: str) -> int | None:
    try:
        prefix, n = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(n) if prefix == "c" and int(n) >= 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


class CardholderService(modes_pb2_grpc.CardholderServiceServicer):
    def __init__(self, access: AccessControl, heartbeat_s: float = 5.0, feed: Any = None) -> None:
        """`feed`: what WatchAccessEvents follows, the access control's log unless a cluster's
        view of the decisions' stream (backend/bus/modes.py)."""
        self.access = access
        self.feed = access if feed is None else feed
        self.heartbeat_s = heartbeat_s
        self.catch_up_s = 0.0 if feed is None else 5.0  # a console from a replica a little ahead

    async def ListCardholders(self, request, context) -> modes_pb2.ListCardholdersResponse:
        if not 0 <= request.page_size <= MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_PAGE}")
        start = _number(request.page_token) if request.page_token else 0
        if start is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this server gave")
        text = request.text.casefold()
        found = [
            p
            for p in self.access.people.values()
            if (not request.group or p.group == request.group)
            and (
                not text
                or text in f"{p.name}\n{p.organisation}\n{p.group}\n{' '.join(p.badge_ids)}".casefold()
            )
        ]
        size = request.page_size or DEFAULT_PAGE
        out = modes_pb2.ListCardholdersResponse(total_size=len(found), groups=self.access.groups)
        for p in found[start : start + size]:
            out.cardholders.add(
                person_id=p.person_id,
                name=clip(p.name),
                organisation=clip(p.organisation),
                group=clip(p.group),
                badge_ids=list(p.badge_ids),
            )
        if start + size < len(found):
            out.next_page_token = _token(start + size)
        return out

    async def ListExceptions(self, request, context) -> modes_pb2.ListExceptionsResponse:
        out = modes_pb2.ListExceptionsResponse(exceptions=[rule_to_pb(r) for r in self.access.rules.values()])
        for name, (btype, district, doors) in sorted(self.access.buildings().items()):
            out.buildings.add(
                name=clip(name), building_type=clip(btype), district=clip(district), access_point_ids=doors
            )
        return out

    async def SetException(
        self, request: modes_pb2.SetExceptionRequest, context
    ) -> modes_pb2.AccessException:
        e = request.exception
        start = seconds_of(e.valid_from) if e.HasField("valid_from") else None
        end = seconds_of(e.valid_until) if e.HasField("valid_until") else None
        if start is None or end is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "valid_from and valid_until are required")
        rule = AccessRule(
            exception_id=e.exception_id,
            person_id=e.person_id,
            group=e.group,
            buildings=tuple(dict.fromkeys(e.buildings)),
            building_types=tuple(dict.fromkeys(e.building_types)),
            valid_from=start,  # type: ignore[arg-type]
            valid_until=end,  # type: ignore[arg-type]
            note=e.note,
        )
        try:
            stored = await self.access.set_rule(rule, request.reason, principal.current())
        except ExceptionInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except UnknownException as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except ModeUnavailable as exc:  # on a cluster: the bus did not store it
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return rule_to_pb(stored)

    async def RemoveException(self, request, context) -> modes_pb2.RemoveExceptionResponse:
        try:
            await self.access.remove_rule(request.exception_id, request.reason, principal.current())
        except ExceptionInvalid as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except UnknownException as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        except ModeUnavailable as exc:  # on a cluster: the bus did not store it
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return modes_pb2.RemoveExceptionResponse()

    async def ListAccessEvents(self, request, context) -> modes_pb2.ListAccessEventsResponse:
        if not 0 <= request.page_size <= MAX_PAGE:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"page_size must be 0..{MAX_PAGE}")
        before = None
        if request.page_token:
            before = _number(request.page_token)
            if before is None:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this server gave"
                )
        size = request.page_size or DEFAULT_EVENTS
        await self.access.flush()  # the newest decisions are in the journal too
        events = await self.access.journal(
            request.asset_id, request.person_id, request.only_refused, before, size
        )
        out = modes_pb2.ListAccessEventsResponse()
        for e in events:
            event_to_pb(e, out.events.add())
        if len(events) == size:
            out.next_page_token = _token(events[-1].sequence)
        return out

    async def WatchAccessEvents(
        self, request: modes_pb2.WatchAccessEventsRequest, context
    ) -> AsyncIterator[modes_pb2.WatchAccessEventsResponse]:
        if request.max_batch < 0:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_batch must not be negative")
        batch = min(request.max_batch or DEFAULT_BATCH, MAX_BATCH)
        log = self.feed
        seq = request.after_sequence
        if seq == 0:
            seq = max(0, log.sequence - RECENT, log.oldest_available - 1)
        else:
            if request.epoch == log.epoch and self.catch_up_s > 0:
                await wait_until_at(log, seq, self.catch_up_s)
            reason = await resume_refusal(
                seq, request.epoch, log.epoch, log.sequence, log.oldest_available, "sequence", context
            )
            if reason:
                yield self._resync(seq, reason)
                return

        def changes_message(changes: Sequence[AccessEvent]) -> modes_pb2.WatchAccessEventsResponse:
            msg = modes_pb2.WatchAccessEventsResponse(sequence=changes[-1].sequence, epoch=log.epoch)
            for e in changes:
                event_to_pb(e, msg.events.events.add())
            return msg

        def heartbeat_message(position: int) -> modes_pb2.WatchAccessEventsResponse:
            hb = modes_pb2.WatchAccessEventsResponse(sequence=position, epoch=log.epoch)
            hb.heartbeat.server_time.GetCurrentTime()
            return hb

        async for msg in follow(
            log,
            seq,
            batch,
            self.heartbeat_s,
            lambda e: e.sequence,
            changes_message,
            heartbeat_message,
            self._resync,
            "sequence",
        ):
            yield msg

    def _resync(self, seq: int, reason: str) -> modes_pb2.WatchAccessEventsResponse:
        return modes_pb2.WatchAccessEventsResponse(
            sequence=self.feed.sequence,
            epoch=self.feed.epoch,
            resync_needed=assets_pb2.ResyncNeeded(
                requested_revision=seq, oldest_available_revision=self.feed.oldest_available, reason=reason
            ),
        )

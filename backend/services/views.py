"""ViewService: saved mosaic views per user and shared by the room (protos/vigie/v1/views.proto).
Protobuf in and out; the rules are backend/domain/views.py, the file backend/store/views_json.py."""

from __future__ import annotations

import asyncio
import time

import grpc

from vigie.backend.domain.audit import AuditEntry, AuditSink
from vigie.backend.domain.views import InvalidView, TooManyViews, UnknownView, View, ViewBook
from vigie.backend.security import principal
from vigie.backend.security.principal import Role
from vigie.backend.services.convert import stamp
from vigie.backend.store.views_json import ViewFile
from vigie.v1 import views_pb2, views_pb2_grpc


def view_pb(v: View) -> views_pb2.MosaicView:
    out = views_pb2.MosaicView(
        name=v.name, layout=v.layout, camera_ids=list(v.camera_ids), shared=v.shared, owner=v.owner
    )
    stamp(v.updated_at, out.updated_at)
    return out


class ViewService(views_pb2_grpc.ViewServiceServicer):
    def __init__(self, book: ViewBook, file: ViewFile, audit: AuditSink) -> None:
        self.book, self.file, self.audit = book, file, audit
        self._lock = asyncio.Lock()  # one change at a time, each on disk before its answer

    async def ListViews(
        self, request: views_pb2.ListViewsRequest, context: grpc.aio.ServicerContext
    ) -> views_pb2.ListViewsResponse:
        who = principal.current()
        return views_pb2.ListViewsResponse(views=[view_pb(v) for v in self.book.visible_to(who.user)])

    async def SaveView(
        self, request: views_pb2.SaveViewRequest, context: grpc.aio.ServicerContext
    ) -> views_pb2.SaveViewResponse:
        who = principal.current()
        target = ("shared:" if request.shared else "") + request.name[:64]
        if request.shared and who.role < Role.SUPERVISOR:
            reason = f"a shared view needs the SUPERVISOR role — you are {who.role.name}"
            self._audit(who, "view.save", target, "denied", reason)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, reason)
        view = View(
            request.name, request.layout, tuple(request.camera_ids), request.shared, who.user, time.time()
        )
        async with self._lock:
            try:
                saved = self.book.save(who.user, view)
            except InvalidView as exc:
                self._audit(who, "view.save", target, "invalid", str(exc))
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except TooManyViews as exc:
                self._audit(who, "view.save", target, "refused", str(exc))
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
            await self.file.save(self.book)
        self._audit(
            who, "view.save", target, "ok", f"{saved.layout}, {sum(1 for c in saved.camera_ids if c)} cameras"
        )
        return views_pb2.SaveViewResponse(view=view_pb(saved))

    async def DeleteView(
        self, request: views_pb2.DeleteViewRequest, context: grpc.aio.ServicerContext
    ) -> views_pb2.DeleteViewResponse:
        who = principal.current()
        target = ("shared:" if request.shared else "") + request.name[:64]
        if request.shared and who.role < Role.SUPERVISOR:
            reason = f"a shared view needs the SUPERVISOR role — you are {who.role.name}"
            self._audit(who, "view.delete", target, "denied", reason)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, reason)
        async with self._lock:
            try:
                self.book.delete(who.user, request.name, request.shared)
            except UnknownView as exc:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(exc.args[0]))
            await self.file.save(self.book)
        self._audit(who, "view.delete", target, "ok", "")
        return views_pb2.DeleteViewResponse()

    def _audit(self, who: principal.Principal, action: str, target: str, result: str, detail: str) -> None:
        self.audit.record(
            AuditEntry(
                user=who.user,
                console=who.console,
                action=action,
                target=target,
                reason="",
                result=result,
                detail=detail,
            )
        )

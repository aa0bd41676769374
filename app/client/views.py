"""The view service: a user's saved mosaic views and the room's shared ones, kept by the backend so
they follow the user to any console (protos/vigie/v1/views.proto). Protobuf stops here."""

from __future__ import annotations

import grpc
from PySide6.QtCore import QObject, Signal

from vigie.app.client.core import UNARY_TIMEOUT, ClientCore
from vigie.app.client.types import SavedView
from vigie.v1 import views_pb2, views_pb2_grpc


def saved_view(v: views_pb2.MosaicView) -> SavedView:
    return SavedView(v.name, v.layout, tuple(v.camera_ids), v.shared, v.owner)


class ViewsClient(QObject):
    """`sig_views`: the whole list after each login and each change; `sig_result`: (ok, message)."""

    sig_views = Signal(object)  # list[SavedView]: own views, then shared ones, by name
    sig_result = Signal(bool, str)

    def __init__(self, core: ClientCore) -> None:
        super().__init__()
        self.core = core
        self.views: list[SavedView] = []
        core.sig_logged_in.connect(lambda _user, _role: self.refresh())

    def refresh(self) -> None:
        self.core.submit(self._list())

    def save(self, name: str, layout: str, camera_ids: list[str], shared: bool = False) -> None:
        self.core.submit(self._save(name, layout, camera_ids, shared))

    def delete(self, name: str, shared: bool = False) -> None:
        self.core.submit(self._delete(name, shared))

    def _stub(self) -> views_pb2_grpc.ViewServiceStub:
        return self.core.stub(views_pb2_grpc.ViewServiceStub)

    async def _list(self) -> None:
        try:
            resp = await self._stub().ListViews(views_pb2.ListViewsRequest(), timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"Saved views: {self.core.describe(exc)}")
            return
        self.views = [saved_view(v) for v in resp.views]
        self.sig_views.emit(list(self.views))

    async def _save(self, name: str, layout: str, camera_ids: list[str], shared: bool) -> None:
        req = views_pb2.SaveViewRequest(name=name, layout=layout, camera_ids=camera_ids, shared=shared)
        try:
            await self._stub().SaveView(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"View \u201c{name}\u201d not saved: {self.core.describe(exc)}")
            return
        self.sig_result.emit(True, f"View \u201c{name}\u201d saved{' for the room' if shared else ''}")
        await self._list()

    async def _delete(self, name: str, shared: bool) -> None:
        req = views_pb2.DeleteViewRequest(name=name, shared=shared)
        try:
            await self._stub().DeleteView(req, timeout=UNARY_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            self.core.note_rpc_error(exc)
            self.sig_result.emit(False, f"View \u201c{name}\u201d not deleted: {self.core.describe(exc)}")
            return
        self.sig_result.emit(True, f"View \u201c{name}\u201d deleted")
        await self._list()

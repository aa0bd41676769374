"""Keeps the detail view on the selected asset: fields refreshed on change, telemetry followed live."""

from __future__ import annotations

import time
from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject

from vigie.app import city_time
from vigie.app.client.session import Session
from vigie.app.models.asset_table import format_age
from vigie.app.models.assets import AssetStore, Changes
from vigie.app.models.records import AssetRecord
from vigie.widgets.detail.asset_detail import AssetDetailView
from vigie.widgets.status.palette import KIND_SINGULAR


def detail_fields(r: AssetRecord) -> list[tuple[str, str]]:
    fields = [
        ("ID", r.id),
        ("Kind", KIND_SINGULAR.get(r.kind, r.kind)),
        ("District", r.district),
        ("Coordinates", f"{r.lat:.5f} N, {r.lon:.5f} E"),
    ]
    if r.kind in ("camera", "vehicle"):
        fields.append(("Heading", f"{r.heading:.0f}°"))
    seen = time.strftime("%H:%M:%S", city_time.localtime(r.last_seen)) if r.last_seen else "never"
    fields.append(
        ("Last seen", f"{seen} ({format_age(time.time() - r.last_seen)} ago)" if r.last_seen else seen)
    )
    # A device's own attributes after; one whose name is taken (a bollard's "position": lowered)
    # is told apart rather than sharing a row with ours (the form keys rows by label).
    taken = {label for label, _ in fields}
    for k, v in sorted(r.attributes.items()):
        label = k.replace("_", " ").capitalize()
        fields.append((f"{label} (device)" if label in taken else label, v))
        taken.add(label)
    return fields


class DetailController(QObject):
    """Every selection path (table, tree, map, alarm, mosaic) ends in select(): the detail decides
    here, for the asset it shows, what the operator may do with it (never a previous selection's
    state)."""

    def __init__(
        self,
        session: Session,
        model: AssetStore,
        view: AssetDetailView,
        may_command: Callable[[str], bool] = lambda _asset_id: False,
    ) -> None:
        super().__init__(view)
        self.session, self.model, self.view = session, model, view
        self.may_command = may_command
        self.asset_id = ""
        model.sig_changed.connect(self._on_changed)
        model.sig_reset.connect(lambda: self._refresh())
        session.assets.sig_telemetry_history.connect(self._on_history)
        session.assets.sig_telemetry_samples.connect(self._on_samples)
        view.chart.sig_range_changed.connect(lambda _s: self._follow_telemetry())

    def select(self, asset_id: str) -> None:
        if asset_id == self.asset_id:
            return
        self.asset_id = asset_id
        self.view.chart.clear("Loading telemetry…" if asset_id else "Select an asset to see its telemetry")
        self._follow_telemetry()
        self._refresh()

    def _follow_telemetry(self) -> None:
        """History as long as the chart's chosen range, then live samples."""
        self.session.assets.watch_telemetry(self.asset_id or None, history_s=self.view.chart.window_s)

    def _refresh(self) -> None:
        if not shiboken6.isValid(self.view):
            return  # the table's sliced reset ended after this detail was closed
        rec = self.model.record(self.asset_id) if self.asset_id else None
        if rec is None:
            self.view.commandable = False
            self.view.clear()
            return
        self.view.commandable = self.may_command(rec.id)
        self.view.show_asset(rec.name, rec.status, rec.reason, detail_fields(rec))

    def refresh(self) -> None:
        """What the user may do changed (a login, the backend's actions): decide again."""
        self._refresh()

    def _on_changed(self, changes: Changes) -> None:
        if any(new.id == self.asset_id for _old, new in changes):
            self._refresh()

    def _on_history(self, asset_id: str, series: list) -> None:
        if asset_id == self.asset_id:
            self.view.chart.set_series(series)

    def _on_samples(self, asset_id: str, series: list) -> None:
        if asset_id == self.asset_id:
            self.view.chart.append(series)

"""Keeps a window's mode banner (and its status-bar line) in step with the session's active modes:
the one place ScreenWindow and WallDisplay call, so each adds two lines."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from vigie.app.models.active_modes import ActiveModesStore
from vigie.app.models.modes import banner_text
from vigie.widgets.modes.banner import ModeBanner


class BannerFeed(QObject):
    """Owned by the banner: its connection goes when the banner's window does."""

    def __init__(self, store: ActiveModesStore, banner: ModeBanner, status: QLabel | None = None) -> None:
        super().__init__(banner)
        self.store, self.banner, self.status = store, banner, status
        store.sig_changed.connect(self.update)
        self.update()

    def update(self) -> None:
        runs = self.store.runs()
        self.banner.set_modes([(banner_text(r), r.color) for r in runs])
        if self.status is not None:
            self.status.setText(self.store.state.status_text())
            self.status.setVisible(bool(runs))


def attach_banner(store: ActiveModesStore, font_pt: float, status: QLabel | None = None) -> ModeBanner:
    """A new banner following `store` (and `status`, a status-bar label, if given)."""
    banner = ModeBanner(font_pt)
    BannerFeed(store, banner, status)
    return banner

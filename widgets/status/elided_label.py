"""A one-line label that ends in "…" when too long instead of widening its window."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy


class ElidedLabel(QLabel):
    """`policy` Ignored: it takes what is left (a wall's side title); Preferred with a `minimum`
    width: it keeps its text while there is room and shrinks to `minimum` on a narrow screen (the
    header's user badge on a 1366 px laptop). The whole text stays in the tooltip the owner sets."""

    def __init__(
        self,
        object_name: str = "",
        policy: QSizePolicy.Policy = QSizePolicy.Policy.Ignored,
        minimum: int = 0,
    ) -> None:
        super().__init__(objectName=object_name)
        self._minimum = minimum
        self.setSizePolicy(policy, QSizePolicy.Policy.Preferred)

    def minimumSizeHint(self) -> QSize:
        return QSize(self._minimum, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        text = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width()
        )
        p.drawText(self.contentsRect(), int(self.alignment()), text)

"""The strip across the top of a window while a city mode is active: one line per active mode, in
the mode's colour, saying the mode, its scope, since when and by whom. Hidden when no mode is."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget


def text_color(background: str) -> str:
    """Black or white, whichever reads better on `background` (a mode's colour may be light)."""
    c = QColor(background)
    if not c.isValid():
        return "#ffffff"
    luminance = 0.2126 * c.redF() + 0.7152 * c.greenF() + 0.0722 * c.blueF()
    return "#000000" if luminance > 0.55 else "#ffffff"


class ModeBanner(QWidget):
    """`set_modes([(text, "#RRGGBB"), ...])`; `font_pt`: 14 on a console, 30 on a wall."""

    def __init__(self, font_pt: float = 14.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modeBanner")
        self.font_pt = font_pt
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(0)
        self.labels: list[QLabel] = []
        self.setVisible(False)

    def set_modes(self, modes: list[tuple[str, str]]) -> None:
        while len(self.labels) > len(modes):
            self.labels.pop().deleteLater()
        while len(self.labels) < len(modes):
            label = QLabel(self)
            label.setObjectName("modeBannerLine")
            label.setWordWrap(True)  # a long line wraps instead of widening the window past its screen
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self._lay.addWidget(label)
            self.labels.append(label)
        pad = max(4, int(self.font_pt * 0.4))
        for label, (text, color) in zip(self.labels, modes, strict=True):
            label.setText(text)
            label.setToolTip(text)
            label.setStyleSheet(
                f"QLabel {{ background: {color}; color: {text_color(color)}; font-size: {self.font_pt}pt;"
                f" font-weight: bold; padding: {pad}px {pad * 2}px; }}"
            )
        self.setVisible(bool(modes))

    def texts(self) -> list[str]:
        return [label.text() for label in self.labels]

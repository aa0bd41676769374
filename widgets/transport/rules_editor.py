"""The rules editor of the Transport panel's Junctions tab: one junction's transit-signal-priority
rules as plain values (the controller turns them into a TSP_CONFIGURE command)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)


@dataclass(frozen=True, slots=True)
class JunctionRules:
    """Empty `lines`: every line; empty `classes`: buses and shuttles (the backend's default)."""

    lines: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()  # "bus", "shuttle", "tram"
    min_lateness_s: int = 60
    shuttle_min_lateness_s: int = 0
    inhibit_s: int = 90
    max_cross_wait_s: int = 20
    max_extension_s: int = 15
    early_green: bool = True


class RulesEditor(QGroupBox):
    """One junction's TSP rules: lines and classes served, lateness thresholds, inhibit time and
    the cross street's maximum wait. What it does not show (max extension, early green) is kept
    from the junction's current rules."""

    CLASSES = (("bus", "Buses"), ("shuttle", "Health shuttles"), ("tram", "Trams"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Rules of the selected junction", parent)
        self.junction = ""
        self._base = JunctionRules()
        self._allowed, self._why = False, "Select a junction to edit its rules."
        self.lines = QLineEdit()
        self.lines.setPlaceholderText("every line (or e.g. L1, L3)")
        self.lines.setMaxLength(400)  # the backend takes at most 50 line ids of 16 characters
        self.classes = {c: QCheckBox(label) for c, label in self.CLASSES}
        classes = QHBoxLayout()
        for box in self.classes.values():
            classes.addWidget(box)
        classes.addStretch(1)
        self.min_lateness = _seconds(0, 600)
        self.shuttle_lateness = _seconds(0, 600)
        self.inhibit = _seconds(0, 600)
        self.max_wait = _seconds(1, 120)
        self.apply_btn = QPushButton("Apply (TSP_CONFIGURE)")
        self.why = QLabel("")
        self.why.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Lines allowed", self.lines)
        form.addRow("Classes allowed", classes)
        form.addRow("Buses: only when later than", self.min_lateness)
        form.addRow("Shuttles: only when later than", self.shuttle_lateness)
        form.addRow("Inhibit after a grant", self.inhibit)
        form.addRow("Max cross-street wait", self.max_wait)
        form.addRow(self.apply_btn, self.why)
        for box in self.classes.values():
            box.toggled.connect(self._refresh)
        self._refresh()

    def load(self, junction: str, rules: JunctionRules) -> None:
        self.junction, self._base = junction, rules
        self.setTitle(f"Rules of {junction}")
        self.lines.setText(", ".join(rules.lines))
        classes = rules.classes or ("bus", "shuttle")
        for c, box in self.classes.items():
            box.setChecked(c in classes)
        self.min_lateness.setValue(rules.min_lateness_s)
        self.shuttle_lateness.setValue(rules.shuttle_min_lateness_s)
        self.inhibit.setValue(rules.inhibit_s)
        self.max_wait.setValue(rules.max_cross_wait_s)
        self._refresh()

    def values(self) -> JunctionRules:
        lines = tuple(x.strip() for x in self.lines.text().replace(";", ",").split(",") if x.strip())
        return JunctionRules(
            lines=lines,
            classes=tuple(c for c, box in self.classes.items() if box.isChecked()),
            min_lateness_s=self.min_lateness.value(),
            shuttle_min_lateness_s=self.shuttle_lateness.value(),
            inhibit_s=self.inhibit.value(),
            max_cross_wait_s=self.max_wait.value(),
            max_extension_s=self._base.max_extension_s,
            early_green=self._base.early_green,
        )

    def set_allowed(self, on: bool, reason: str = "") -> None:
        self._allowed, self._why = on, reason
        self._refresh()

    def _refresh(self) -> None:
        """Apply is enabled only when it can be sent; otherwise the label says why."""
        if not self._allowed:
            why = self._why
        elif not self.junction:
            why = "Select a junction to edit its rules."
        elif not any(box.isChecked() for box in self.classes.values()):
            why = "Allow at least one class of vehicle."
        else:
            why = ""
        self.apply_btn.setEnabled(not why)
        self.why.setText(why)


def _seconds(low: int, high: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSuffix(" s")
    return box

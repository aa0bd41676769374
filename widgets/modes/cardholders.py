"""The cardholders and exceptions panel: the directory (people, their badges and group), the
exceptions that let people through closed buildings (set and removed by a supervisor, with a
time window and a reason) and the live access decisions at the doors.

A view only: it takes rows of text (the controller, app/controllers/cardholders.py, formats
times and names) and emits what the user asked for; it knows nothing of the backend."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Qt, QTimeZone, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vigie.widgets.modes.mode_dialog import _fill, _table

STYLE = """
QLabel#cardsHint { color: #8b949e; }
QLabel#cardsProblem { color: #f0883e; font-weight: bold; }
"""
MAX_EVENT_ROWS = 500  # live decisions shown (newest first)
DEFAULT_WINDOW_H = 8  # a new exception's window: from now, for a shift
GRANTED, REFUSED = QColor("#3fb950"), QColor("#f85149")


def _checkable(box: QListWidget, names: list[str]) -> None:
    """Checkable entries, ticks kept; untouched when the names are the same (a refresh)."""
    if [box.item(i).text() for i in range(box.count())] == names:
        return
    checked = {
        box.item(i).text() for i in range(box.count()) if box.item(i).checkState() == Qt.CheckState.Checked
    }
    box.clear()
    for n in names:
        item = QListWidgetItem(n)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if n in checked else Qt.CheckState.Unchecked)
        box.addItem(item)


def _checked(box: QListWidget) -> list[str]:
    return [
        box.item(i).text() for i in range(box.count()) if box.item(i).checkState() == Qt.CheckState.Checked
    ]


class CardholdersPanel(QWidget):
    sig_search = Signal(str, str)  # text, group ("" for all)
    sig_set = Signal(
        dict
    )  # {person_id, group, buildings, building_types, valid_from, valid_until, note, reason}
    sig_remove = Signal(str, str)  # exception id, reason
    sig_refresh = Signal()  # the exceptions again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cardholdersPanel")
        self.setStyleSheet(STYLE)
        self.allowed, self.why_not = False, ""
        self.exception_ids: list[str] = []
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        lay.addWidget(self.tabs)
        self.tabs.addTab(self._directory_tab(), "Directory")
        self.tabs.addTab(self._exceptions_tab(), "Exceptions")
        self.tabs.addTab(self._events_tab(), "Access events")
        self._update_buttons()

    # ---- directory --------------------------------------------------------------------------

    def _directory_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        row = QHBoxLayout()
        self.search = QLineEdit(placeholderText="Search a name, organisation, group or badge")
        self.search.setMaxLength(200)
        self.search.returnPressed.connect(self._ask_search)
        row.addWidget(self.search, 1)
        self.group_filter = QComboBox()
        self.group_filter.addItem("All groups", "")
        self.group_filter.activated.connect(lambda _i: self._ask_search())
        row.addWidget(self.group_filter)
        lay.addLayout(row)
        self.directory_count = QLabel(objectName="cardsHint")
        lay.addWidget(self.directory_count)
        self.people = _table(["Name", "Group", "Organisation", "Badges"])
        lay.addWidget(self.people, 1)
        return page

    def _ask_search(self) -> None:
        self.sig_search.emit(self.search.text().strip(), str(self.group_filter.currentData() or ""))

    def set_people(self, rows: list[list[str]], groups: list[str], total: int) -> None:
        """rows: [name, group, organisation, badges]; every group the directory has."""
        _fill(self.people, rows)
        self.directory_count.setText(
            f"{total} people" + (f" (showing {len(rows)})" if len(rows) < total else "")
        )
        current = self.group_filter.currentData()
        self.group_filter.clear()
        self.group_filter.addItem("All groups", "")
        for g in groups:
            self.group_filter.addItem(g, g)
        self.group_filter.setCurrentIndex(max(0, self.group_filter.findData(current)))

    def set_choices(self, people: list[tuple[str, str]], groups: list[str]) -> None:
        """Whom an exception may name: (person id, label) and the groups."""
        for box, items in ((self.person_box, people), (self.group_box, [(g, g) for g in groups])):
            current = box.currentData()
            box.clear()
            for value, label in items:
                box.addItem(label, value)
            box.setCurrentIndex(max(0, box.findData(current)))

    # ---- exceptions -------------------------------------------------------------------------

    def _exceptions_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        split = QSplitter(Qt.Orientation.Vertical)
        self.exceptions = _table(["Who", "Buildings", "From", "Until", "Note", "Set by"])
        self.exceptions.itemSelectionChanged.connect(self._update_buttons)
        split.addWidget(self.exceptions)
        form_box = QWidget()
        form = QFormLayout(form_box)
        who = QHBoxLayout()
        self.for_person = QRadioButton("Person")
        self.for_group = QRadioButton("Group")
        self.for_group.setChecked(True)
        choice = QButtonGroup(form_box)
        choice.addButton(self.for_person)
        choice.addButton(self.for_group)
        self.person_box = QComboBox()
        self.person_box.setMinimumWidth(220)
        self.group_box = QComboBox()
        for w in (self.for_group, self.group_box, self.for_person, self.person_box):
            who.addWidget(w)
        who.addStretch(1)
        form.addRow("For", who)
        places = QHBoxLayout()
        self.building_types = QListWidget()
        self.buildings = QListWidget()
        for box in (self.building_types, self.buildings):
            box.setMaximumHeight(110)
            box.itemChanged.connect(lambda _i: self._update_buttons())
            places.addWidget(box)
        form.addRow("Building types / buildings", places)
        when = QHBoxLayout()
        now = QDateTime.currentDateTime()
        self.valid_from = QDateTimeEdit(now)
        self.valid_until = QDateTimeEdit(now.addSecs(DEFAULT_WINDOW_H * 3600))
        for w in (self.valid_from, self.valid_until):
            w.setDisplayFormat("dd MMM yyyy HH:mm")
            w.setCalendarPopup(True)
            w.dateTimeChanged.connect(lambda _d: self._update_buttons())
        when.addWidget(self.valid_from)
        when.addWidget(QLabel("until"))
        when.addWidget(self.valid_until)
        when.addStretch(1)
        form.addRow("From", when)
        self.note = QLineEdit(placeholderText="Note shown with each decision (optional)")
        self.note.setMaxLength(200)
        form.addRow("Note", self.note)
        self.reason = QLineEdit(placeholderText="Reason (required, written to the audit trail)")
        self.reason.setMaxLength(500)
        self.reason.textChanged.connect(lambda _t: self._update_buttons())
        form.addRow("Reason", self.reason)
        buttons = QHBoxLayout()
        self.set_button = QPushButton("Set exception")
        self.set_button.clicked.connect(self._set)
        self.remove_button = QPushButton("Remove selected")
        self.remove_button.clicked.connect(self._remove)
        buttons.addWidget(self.set_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.problem = QLabel(objectName="cardsProblem")
        self.problem.setWordWrap(True)
        form.addRow(self.problem)
        split.addWidget(form_box)
        split.setSizes([220, 300])
        lay.addWidget(split, 1)
        return page

    def set_time_zone(self, name: str) -> None:
        """The window is entered in the city's time (IANA name), as every time the console shows."""
        tz = QTimeZone(name.encode())
        if not tz.isValid():
            return
        now = QDateTime.currentDateTime()
        for edit, t in ((self.valid_from, now), (self.valid_until, now.addSecs(DEFAULT_WINDOW_H * 3600))):
            edit.setTimeZone(tz)
            edit.setDateTime(t)

    def set_exceptions(self, rows: list[tuple[str, list[str]]]) -> None:
        """(exception id, [who, buildings, from, until, note, set by]) each."""
        self.exception_ids = [eid for eid, _ in rows]
        _fill(self.exceptions, [cells for _, cells in rows])
        self._update_buttons()

    def set_places(self, building_types: list[str], buildings: list[str]) -> None:
        _checkable(self.building_types, building_types)
        _checkable(self.buildings, buildings)

    def set_allowed(self, allowed: bool, why_not: str) -> None:
        """Whether the logged-in user may set and remove exceptions (and why not)."""
        self.allowed, self.why_not = allowed, why_not
        self._update_buttons()

    def selected_exception(self) -> str:
        rows = self.exceptions.selectionModel().selectedRows()
        return self.exception_ids[rows[0].row()] if rows and rows[0].row() < len(self.exception_ids) else ""

    def _form_problem(self) -> str:
        if not self.allowed:
            return self.why_not
        if not (_checked(self.building_types) or _checked(self.buildings)):
            return "Tick the building types or buildings the exception opens."
        if self.valid_until.dateTime() <= self.valid_from.dateTime():
            return "The window ends before it starts."
        if not self.reason.text().strip():
            return "Give a reason: it goes to the audit trail."
        return ""

    def _update_buttons(self) -> None:
        problem = self._form_problem()
        self.set_button.setEnabled(not problem)
        self.set_button.setToolTip(problem)
        removable = self.allowed and bool(self.selected_exception()) and bool(self.reason.text().strip())
        self.remove_button.setEnabled(removable)
        self.remove_button.setToolTip(self.why_not if not self.allowed else "")
        self.problem.setText(problem)

    def _set(self) -> None:
        if self._form_problem():
            return
        person = self.for_person.isChecked()
        self.sig_set.emit(
            {
                "person_id": str(self.person_box.currentData() or "") if person else "",
                "group": "" if person else str(self.group_box.currentData() or ""),
                "building_types": _checked(self.building_types),
                "buildings": _checked(self.buildings),
                "valid_from": float(self.valid_from.dateTime().toSecsSinceEpoch()),
                "valid_until": float(self.valid_until.dateTime().toSecsSinceEpoch()),
                "note": self.note.text().strip(),
                "reason": self.reason.text().strip(),
            }
        )

    def _remove(self) -> None:
        eid = self.selected_exception()
        if eid and self.allowed and self.reason.text().strip():
            self.sig_remove.emit(eid, self.reason.text().strip())

    # ---- access events ----------------------------------------------------------------------

    def _events_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.events_hint = QLabel("Live decisions at the doors, newest first.", objectName="cardsHint")
        lay.addWidget(self.events_hint)
        self.events = _table(["Time", "Door", "Building", "Person", "Group", "Decision", "Why"])
        lay.addWidget(self.events, 1)
        return page

    def clear_events(self) -> None:
        self.events.setRowCount(0)

    def add_events(self, rows: list[tuple[bool, list[str]]]) -> None:
        """(granted, [time, door, building, person, group, decision, why]) each, newest first."""
        if not rows:
            return
        t = self.events
        t.setUpdatesEnabled(False)
        rows = rows[:MAX_EVENT_ROWS]
        for _ in rows:
            t.insertRow(0)
        for r, (granted, cells) in enumerate(rows):
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if c == 5:
                    item.setForeground(GRANTED if granted else REFUSED)
                t.setItem(r, c, item)
        if t.rowCount() > MAX_EVENT_ROWS:
            t.setRowCount(MAX_EVENT_ROWS)
        t.setUpdatesEnabled(True)

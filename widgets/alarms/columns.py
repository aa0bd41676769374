"""The alarm lists' table: rows selected whole, columns that share the panel's width until the operator
drags one (ColumnFit), and a header menu to hide or show each column."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView


def alarm_table(model: QAbstractItemModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(26)
    hh = view.horizontalHeader()
    hh.setHighlightSections(False)
    hh.setStretchLastSection(True)
    hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    # The columns share the panel's width (ColumnFit) until the operator drags one; the header's
    # menu (right-click) hides or shows each. "Raised" starts hidden: Age says the same at a glance,
    # the detail pane gives the exact time.
    hh.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    hh.customContextMenuRequested.connect(lambda pos: _column_menu(view, pos))
    titles = [str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(model.columnCount())]
    if "Raised" in titles:
        hh.setSectionHidden(titles.index("Raised"), True)
    view._fit = ColumnFit(view)  # type: ignore[attr-defined]  # kept alive with the view
    return view


class ColumnFit(QObject):
    """Share a table's width between its visible columns by weight (narrow ones fixed), so that
    District, Count and Acknowledged are on screen in a laptop's panel. Stops once the operator
    resizes a column by hand."""

    FIXED = {"Priority": 72, "Age": 62, "Raised": 76, "Count": 64}
    WEIGHTS = {"State": 3, "Asset": 4, "Alarm": 4, "District": 3, "Handled": 4}

    def __init__(self, view: QTableView) -> None:
        super().__init__(view)
        self.view = view
        self.by_hand = False
        self._fitting = False
        view.viewport().installEventFilter(self)
        hh = view.horizontalHeader()
        hh.sectionResized.connect(self._on_resized)
        hh.sectionCountChanged.connect(lambda *_: self.fit())
        self.fit()

    def _on_resized(self, *_args: object) -> None:
        if not self._fitting and self.view.horizontalHeader().underMouse():
            self.by_hand = True

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        view = self.view
        hh, model = view.horizontalHeader(), view.model()
        if self.by_hand or model is None:
            return
        cols = [c for c in range(model.columnCount()) if not hh.isSectionHidden(c)]
        titles = {c: str(model.headerData(c, Qt.Orientation.Horizontal)) for c in cols}
        fixed = {c: self.FIXED[t] for c, t in titles.items() if t in self.FIXED}
        weights = {c: self.WEIGHTS.get(titles[c], 3) for c in cols if c not in fixed}
        room = max(0, view.viewport().width() - sum(fixed.values()) - 2)
        total = sum(weights.values()) or 1
        self._fitting = True
        try:
            for c, w in fixed.items():
                hh.resizeSection(c, w)
            for c, w in weights.items():
                hh.resizeSection(c, max(60, room * w // total))
        finally:
            self._fitting = False


def _column_menu(view: QTableView, pos: QPoint) -> QMenu:
    """Check or uncheck each column; the last visible one stays."""
    hh = view.horizontalHeader()
    model = view.model()
    menu = QMenu(view)
    menu.setObjectName("columnMenu")
    menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    shown = [c for c in range(model.columnCount()) if not hh.isSectionHidden(c)]
    for col in range(model.columnCount()):
        title = str(model.headerData(col, Qt.Orientation.Horizontal))
        action = menu.addAction(title)
        action.setCheckable(True)
        action.setChecked(not hh.isSectionHidden(col))
        action.setEnabled(not (len(shown) == 1 and col in shown))
        action.toggled.connect(lambda on, c=col: (hh.setSectionHidden(c, not on), view._fit.fit()))
    menu.popup(hh.mapToGlobal(pos))
    return menu

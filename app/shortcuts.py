"""Every keyboard shortcut of the console, in one place: the named actions, their default keys, the
operator's own keys (kept in QSettings under `shortcuts/<name>`), and the binding of an action to a
slot. Operators work with one hand on the keyboard, so each main action has a key that works in every
console window (application-wide), whatever panel has the focus; the tile actions (PTZ) work where
the mosaic has the focus, since their arrows would otherwise steal the tables' and the map's.

A feature connects `console.shortcuts.action(name).triggered` (application-wide) or calls
`console.shortcuts.bind(name, widget, slot)` (panel actions); the settings dialog
(widgets/status/shortcut_dialog.py) changes keys with `set_keys()`, and every bound QAction follows.
Bare keys (Space, letters, arrows) give way to a widget that types or moves with them (a line edit, a
button, a list), so a shortcut never eats a keystroke the focused widget needs (`KeysForWidgets`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from vigie.widgets.status.shortcut_dialog import ShortcutDialog

APP = Qt.ShortcutContext.ApplicationShortcut
PANEL = Qt.ShortcutContext.WidgetWithChildrenShortcut
SETTING = "shortcuts/"


@dataclass(frozen=True)
class ShortcutSpec:
    """One named action. `scope`: APP (any console window) or PANEL (where its widget has the focus)."""

    name: str
    title: str
    default: str  # a QKeySequence in portable text ("Ctrl+Down"); "" for none
    group: str
    scope: Qt.ShortcutContext = APP


SPECS: tuple[ShortcutSpec, ...] = (
    ShortcutSpec("alarm.next", "Next alarm", "Ctrl+Down", "Alarms"),
    ShortcutSpec("alarm.previous", "Previous alarm", "Ctrl+Up", "Alarms"),
    # Space only where the alarm panel has the focus: application-wide it would take Space from
    # every list that ticks items with it (the modes panel's) and every button.
    ShortcutSpec(
        "alarm.acknowledge", "Acknowledge the selected alarms (in the alarm list)", "Space", "Alarms", PANEL
    ),
    ShortcutSpec("alarm.shelve", "Shelve the selected alarms (asks for a reason)", "Ctrl+H", "Alarms"),
    ShortcutSpec("alarm.incident", "Create an incident from the selected alarm", "I", "Alarms"),
    ShortcutSpec("alarm.focus", "Go to the alarm list", "Ctrl+L", "Alarms"),
    ShortcutSpec("search.focus", "Search assets", "Ctrl+F", "Assets"),
    ShortcutSpec("filters.clear", "Clear every asset filter", "Ctrl+Shift+F", "Assets"),
    ShortcutSpec("view.fullscreen", "Full screen: the tile or the mosaic (Escape leaves)", "F11", "Video"),
    *(
        ShortcutSpec(
            f"mosaic.layout.{n}",
            f"Mosaic layout {n}×{n}" if n <= 5 else f"Mosaic layout {n}",
            f"Ctrl+{n}",
            "Video",
        )
        for n in range(1, 10)
    ),
    ShortcutSpec("mosaic.next_tile", "Next tile", "F6", "Video"),
    ShortcutSpec("mosaic.previous_tile", "Previous tile", "Shift+F6", "Video"),
    ShortcutSpec("ptz.left", "PTZ pan left", "Left", "PTZ", PANEL),
    ShortcutSpec("ptz.right", "PTZ pan right", "Right", "PTZ", PANEL),
    ShortcutSpec("ptz.up", "PTZ tilt up", "Up", "PTZ", PANEL),
    ShortcutSpec("ptz.down", "PTZ tilt down", "Down", "PTZ", PANEL),
    ShortcutSpec("ptz.zoom_in", "PTZ zoom in", "+", "PTZ", PANEL),
    ShortcutSpec("ptz.zoom_out", "PTZ zoom out", "-", "PTZ", PANEL),
    ShortcutSpec("wall.send", "Send the selection to a wall", "Ctrl+Shift+W", "Video"),
    ShortcutSpec("help.shortcuts", "Show the shortcut list", "F1", "Help"),
    ShortcutSpec("settings.shortcuts", "Change shortcuts", "Ctrl+Shift+K", "Help"),
)
BY_NAME = {s.name: s for s in SPECS}


class ShortcutRegistry(QObject):
    """The keys in force and the actions bound to them: one per console (`Console.shortcuts`); the
    keys themselves are the machine's settings, shared by every console started there."""

    sig_changed = Signal()  # some key changed: lists and tooltips redraw

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._keys: dict[str, QKeySequence] = {}
        for spec in SPECS:
            saved = self._store().value(SETTING + spec.name, None)
            text = spec.default if saved is None else str(saved)
            self._keys[spec.name] = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)
        self._bound: dict[str, list[QAction]] = {}
        self._app_actions: dict[str, QAction] = {}
        self._windows: list[QWidget] = []
        self.dialog: ShortcutDialog | None = None
        app = QApplication.instance()
        if isinstance(app, QApplication) and not any(isinstance(c, KeysForWidgets) for c in app.children()):
            KeysForWidgets(app)

    def _store(self) -> QSettings:
        return self._settings if self._settings is not None else QSettings()

    def keys(self, name: str) -> QKeySequence:
        return self._keys[BY_NAME[name].name]

    def text(self, name: str) -> str:
        """The key as the operator reads it ("Ctrl+Down"), "" when there is none."""
        return self.keys(name).toString(QKeySequence.SequenceFormat.NativeText)

    def conflict(self, name: str, keys: QKeySequence) -> str:
        """The name of another action already on `keys` ("" when free)."""
        if keys.isEmpty():
            return ""
        return next((n for n, k in self._keys.items() if n != name and k == keys), "")

    def set_keys(self, name: str, keys: QKeySequence) -> None:
        """New keys for `name`, saved and applied to every action bound to it."""
        spec = BY_NAME[name]
        self._keys[name] = keys
        text = keys.toString(QKeySequence.SequenceFormat.PortableText)
        if text == spec.default:
            self._store().remove(SETTING + name)
        else:
            self._store().setValue(SETTING + name, text)
        for action in self._bound.get(name, []):
            action.setShortcut(keys)
        self.sig_changed.emit()

    def reset_all(self) -> None:
        for spec in SPECS:
            self.set_keys(
                spec.name, QKeySequence.fromString(spec.default, QKeySequence.SequenceFormat.PortableText)
            )

    def action(self, name: str) -> QAction:
        """The one QAction of an application-wide action (made on first use). Connect its
        `triggered` to a QObject's method (it then disconnects with that object). It works in every
        window that `attach()`ed the registry: one action for all windows, so a key is never
        ambiguous between two windows."""
        spec = BY_NAME[name]
        if spec.scope != APP:
            raise ValueError(f"{name} is a panel action: bind() it to its panel")
        action = self._app_actions.get(name)
        if action is None:
            action = QAction(spec.title, self)
            action.setObjectName(f"shortcut:{name}")
            action.setShortcut(self._keys[name])
            action.setShortcutContext(APP)
            self._app_actions[name] = action
            self._bound.setdefault(name, []).append(action)
            for window in self._windows:
                window.addAction(action)
        return action

    def attach(self, window: QWidget) -> None:
        """Make the application-wide actions work while `window` is shown (each console window)."""
        self._windows.append(window)
        window.destroyed.connect(
            lambda _=None, w=window: self._windows.remove(w) if w in self._windows else None
        )
        for action in self._app_actions.values():
            window.addAction(action)

    def bind(self, name: str, widget: QWidget, slot: Callable[[], object]) -> QAction:
        """A QAction on `widget` for a panel action (PTZ): its keys work where `widget` or one of
        its children has the focus. It dies with `widget`."""
        spec = BY_NAME[name]
        action = QAction(spec.title, widget)
        action.setObjectName(f"shortcut:{name}")
        action.setShortcut(self._keys[name])
        action.setShortcutContext(spec.scope)
        action.triggered.connect(lambda _checked=False: slot())
        widget.addAction(action)
        self._bound.setdefault(name, []).append(action)
        action.destroyed.connect(lambda _=None, n=name, a=action: self._forget(n, a))
        return action

    def _forget(self, name: str, action: QAction) -> None:
        bound = self._bound.get(name, [])
        self._bound[name] = [a for a in bound if a is not action]

    def show_dialog(self, parent: QWidget | None = None) -> ShortcutDialog:
        """The shortcut list, where a key is changed (one dialog, raised again on each call)."""
        if self.dialog is None:
            dialog = ShortcutDialog(parent)
            dialog.sig_set.connect(self._set_from_dialog)
            dialog.sig_reset_all.connect(self.reset_all)
            self.sig_changed.connect(lambda: dialog.set_rows(self.rows()))
            self.dialog = dialog
        self.dialog.set_rows(self.rows())
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def _set_from_dialog(self, name: str, text: str) -> None:
        assert self.dialog is not None
        keys = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)
        taken = self.conflict(name, keys)
        if taken:
            self.dialog.say(f"{self._shown(keys)} is already “{BY_NAME[taken].title}”: change that one first")
            return
        self.set_keys(name, keys)
        self.dialog.say(f"“{BY_NAME[name].title}”: {self.text(name) or 'no key'}")

    @staticmethod
    def _shown(keys: QKeySequence) -> str:
        return keys.toString(QKeySequence.SequenceFormat.NativeText)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(name, group, title, keys) for every action: the F1 list and the settings dialog."""
        return [(s.name, s.group, s.title, self.text(s.name)) for s in SPECS]


SPACE_IS_SHORTCUT = "vigieSpaceIsShortcut"  # a list property: Space there is the shortcut's

EDITING_KEYS = {
    Qt.Key.Key_Backspace,
    Qt.Key.Key_Delete,
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_Return,
    Qt.Key.Key_Enter,
}


def _typing_widget(w: QWidget | None, key: QKeyEvent) -> bool:
    """Whether the focused widget needs this bare key itself."""
    if w is None:
        return False
    k = Qt.Key(key.key())
    if isinstance(w, (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)):
        # What it types or edits with; not F1, F6 or F11, which stay the console's.
        return (key.text().isprintable() and key.text() != "") or k in EDITING_KEYS
    if isinstance(w, (QAbstractButton, QComboBox)):
        return k in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter) or isinstance(w, QComboBox)
    if isinstance(w, QAbstractItemView):
        # Lists move with arrows and tick items with Space; in a list marked for it (the alarm list:
        # SPACE_IS_SHORTCUT), Space is the console's (acknowledge).
        if k == Qt.Key.Key_Space:
            return not w.property(SPACE_IS_SHORTCUT)
        return k in (
            Qt.Key.Key_Up,
            Qt.Key.Key_Down,
            Qt.Key.Key_Left,
            Qt.Key.Key_Right,
            Qt.Key.Key_Plus,
            Qt.Key.Key_Minus,
        )
    return False


class KeysForWidgets(QObject):
    """A bare key (no Ctrl/Alt/Meta) that the focused widget types or moves with goes to that
    widget, not to an application-wide shortcut (Qt's ShortcutOverride). It filters the focused
    widget only, moving with the focus: an application-wide Python filter would see every event of
    every object, some of them half-built (QtWebEngine's request jobs crashed PySide there)."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._watched: QWidget | None = None
        app.focusChanged.connect(self._on_focus)
        self._on_focus(None, app.focusWidget())

    def _on_focus(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self._watched is not None:
            with contextlib.suppress(RuntimeError):  # already deleted: nothing to remove
                self._watched.removeEventFilter(self)
        self._watched = new
        if new is not None:
            new.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            mods = event.modifiers() & ~(
                Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
            )
            if (
                mods == Qt.KeyboardModifier.NoModifier
                and isinstance(obj, QWidget)
                and _typing_widget(obj, event)
            ):
                event.accept()
        return False

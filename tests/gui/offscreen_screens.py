"""Change the screens of Qt's offscreen platform while the application runs, as a monitor being
plugged in or out would: real QScreen objects come and go and QGuiApplication emits screenAdded and
screenRemoved.

The offscreen plugin has this built in (QOffscreenIntegration::setConfiguration, which Qt's own
tests use); its native interface hands out the function under the name "setConfiguration". PySide
does not expose QPlatformNativeInterface, so this reaches it with ctypes: the exported
QGuiApplication::platformNativeInterface(), its virtual nativeResourceForIntegration() (first slot
after QObject's 12), and a QJsonObject made by the exported QJsonDocument::object(). Test-only code,
checked against the pinned Qt (6.11.2): an unknown resource must come back null, a known one not.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import PySide6
import shiboken6
from PySide6.QtCore import QByteArray, QJsonDocument

_LIB = Path(PySide6.__file__).parent / "Qt" / "lib"
_QOBJECT_VIRTUALS = 12  # metaObject, qt_metacast, qt_metacall, 2 destructors, event, eventFilter,
# timerEvent, childEvent, customEvent, connectNotify, disconnectNotify


class OffscreenScreens:
    def __init__(self) -> None:
        gui = ctypes.CDLL(str(_LIB / "libQt6Gui.so.6"))
        core = ctypes.CDLL(str(_LIB / "libQt6Core.so.6"))
        native = gui._ZN15QGuiApplication23platformNativeInterfaceEv
        native.restype = ctypes.c_void_p
        self._iface = native()
        if not self._iface:
            raise RuntimeError("no platform native interface (is the platform offscreen?)")
        vtable = ctypes.cast(self._iface, ctypes.POINTER(ctypes.c_void_p))[0]
        slot = ctypes.cast(vtable, ctypes.POINTER(ctypes.c_void_p))[_QOBJECT_VIRTUALS]
        resource = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(slot)

        def lookup(name: bytes) -> int | None:
            key = QByteArray(name)
            return resource(self._iface, shiboken6.getCppPointer(key)[0])

        if lookup(b"no-such-resource") is not None:
            raise RuntimeError("unexpected native interface layout")
        setter = lookup(b"setConfiguration")
        if not setter:
            raise RuntimeError("this platform cannot change its screens (not offscreen?)")
        self._set = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(setter)
        self._to_object = core._ZNK13QJsonDocument6objectEv  # QJsonObject returned through a hidden pointer
        self._to_object.restype = None
        self._to_object.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._drop_object = core._ZN11QJsonObjectD1Ev
        self._drop_object.restype = None
        self._drop_object.argtypes = [ctypes.c_void_p]

    def set(self, config: dict) -> None:
        """Apply an offscreen configuration ({"screens": [{"name", "x", "y", "width", "height"}]}):
        screens are matched by name; new ones are added, missing ones removed, others updated."""
        doc = QJsonDocument.fromJson(json.dumps(config).encode())
        obj = ctypes.create_string_buffer(64)  # a QJsonObject is one pointer; room to spare
        self._to_object(ctypes.addressof(obj), shiboken6.getCppPointer(doc)[0])
        try:
            self._set(ctypes.addressof(obj), self._iface)
        finally:
            self._drop_object(ctypes.addressof(obj))

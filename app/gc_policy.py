"""Garbage-collector policy for the console process.

The city's state is tens of thousands of long-lived records; a full (generation 2) collection
walks all of them and held the GUI thread for up to 264 ms at 50,000 changes/s (bench/run.py).
After a snapshot is loaded we freeze what exists (those objects are never scanned again; replaced
records are still freed by reference counting) and collect the young generation less often.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import SignalInstance


def install(snapshot_loaded: SignalInstance) -> None:
    gc.set_threshold(50_000, 20, 20)
    snapshot_loaded.connect(_freeze)


def _freeze() -> None:
    # A full collection costs a few hundred ms at 50,000 assets: only before the first freeze;
    # later snapshots (reconnects) just freeze what is new.
    if gc.get_freeze_count() == 0:
        gc.collect()
    gc.freeze()

"""Garbage-collector policy for the console process.

The city's state is tens of thousands of long-lived records; a full (generation 2) collection
walks all of them and held the GUI thread for up to 264 ms at 50,000 changes/s (bench/run.py).
After a snapshot is loaded we freeze what exists (those objects are never scanned again; replaced
records are still freed by reference counting) and collect the young generation less often.

Frozen objects are never collected: cyclic garbage frozen with them stays for the life of the
process. Each snapshot (the first, and every reconnect's) therefore unfreezes, collects, then
freezes again, so the frozen set is what is alive at the last snapshot, not the sum of every
snapshot's (the soak saw 90k -> 714k frozen objects after one backend restart when later
snapshots only froze on top). The full collection costs a few hundred ms at 50,000 assets, once per
(re)connection.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import SignalInstance


def install(snapshot_loaded: SignalInstance) -> None:
    gc.set_threshold(50_000, 20, 20)
    snapshot_loaded.connect(_freeze)


def _freeze() -> None:
    gc.unfreeze()  # back into the oldest generation: garbage frozen last time can go now
    gc.collect()
    gc.freeze()

"""The asset table: every asset of the city, sorted and filtered inside the model.

Why not QSortFilterProxyModel: on 100,000 rows it took 9.5-18 s to sort and up to 20 s to handle
a range-wide dataChanged, where a Python sort of the row order takes 0.2 s. So this model keeps
the visible ids in view order itself. The records live in the asset store (app/models/assets.py),
which coalesces the client's changes once per tick; the table places the changed rows on the
event loop's next turn, after the store's other subscribers (map, tree, detail) had theirs, and a
pass that gets expensive stretches the store's tick. A new snapshot is ordered in slices, one per
event-loop turn (sorted runs, merged at the end), while the previous rows stay on screen.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from operator import attrgetter, itemgetter
from typing import Any

from PySide6.QtCore import (
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont

from vigie.app.models.assets import AssetStore, Changes
from vigie.app.models.ordered_rows import OrderedRowsModel, insert_sorted, without
from vigie.app.models.records import AssetRecord
from vigie.widgets.dnd import ASSET_MIME, asset_mime
from vigie.widgets.status.palette import KIND_SINGULAR, SEVERITY, STATUS_LABELS, status_color, status_icon

COLUMNS: list[tuple[str, str]] = [
    ("status", "Status"),
    ("name", "Name"),
    ("kind", "Kind"),
    ("district", "District"),
    ("reason", "Status reason"),
    ("last_seen", "Last seen"),
    ("id", "ID"),
]
COL = {key: i for i, (key, _) in enumerate(COLUMNS)}

RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex


def format_age(seconds: float) -> str:
    if seconds < 0:
        seconds = 0
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


# Fields that decide where a row sorts, per sort column (a change elsewhere keeps the row in place).
_SORT_FIELDS = {
    "status": attrgetter("status", "name", "id"),
    "name": attrgetter("name", "id"),
    "kind": attrgetter("kind", "name", "id"),
    "district": attrgetter("district", "name", "id"),
    "reason": attrgetter("reason", "name", "id"),
    "last_seen": attrgetter("last_seen", "id"),
    "id": attrgetter("id"),
}


_first, _second = itemgetter(0), itemgetter(1)


def _bisect(keys: list[Any], key: Any, desc: bool) -> int:
    """The first index of sorted `keys` (descending when `desc`) where `key` belongs."""
    if not desc:
        return bisect_left(keys, key)
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] > key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _part(text: str) -> str:
    """`text` as a leading part of a text sort key: the concatenation of parts sorts like the
    tuple of them. Each leading part ends with two NULs and a NUL inside one is written NUL +
    \\x01 (order-preserving: the end sorts before any text that goes on, and no part can run
    into the next); the last part is left as it is. Comparing such strings is one C compare,
    where the (severity, name, id) tuples were compared element by element: ~4x more per binary
    search at 6,000 rows, and a status pass searches each moved row twice (docs/performance.md,
    fifth round)."""
    return text.replace("\0", "\0\1") + "\0\0" if "\0" in text else text + "\0\0"


# The severity as one character: it sorts like the number and needs no end mark (fixed width).
_SEVERITY_CHAR = {status: chr(rank) for status, rank in SEVERITY.items()}
_NO_SEVERITY = chr(9)


def _sort_key(column: str) -> Callable[[AssetRecord], Any]:
    if column == "status":
        sev = _SEVERITY_CHAR.get
        return lambda r: sev(r.status, _NO_SEVERITY) + _part(r.name) + r.id
    if column == "kind":
        return lambda r: _part(r.kind) + _part(r.name) + r.id
    if column == "district":
        return lambda r: _part(r.district) + _part(r.name) + r.id
    if column == "reason":
        return lambda r: _part(r.reason) + _part(r.name) + r.id
    if column == "last_seen":
        return lambda r: (r.last_seen, r.id)
    if column == "id":
        return lambda r: r.id
    return lambda r: (r.name, r.id)


FILTER_FIELDS = ("name", "id", "district", "reason", "status", "kind")


def _term(word: str) -> tuple[str, str]:
    """("district", "univ") for "district:univ"; ("", word) for a plain word (any column)."""
    field, sep, rest = word.partition(":")
    if sep and field in FILTER_FIELDS and rest:
        return field, rest
    return "", word


@cache
def _muted(status: str) -> QColor:
    """The status colour half-way to grey: the shape icon and the word carry the meaning, and a
    column of FAULT devices must not outshout the alarm list (docs/ux.md: alarms are the loudest)."""
    c, grey = status_color(status), QColor("#8b949e")
    return QColor((c.red() + grey.red()) // 2, (c.green() + grey.green()) // 2, (c.blue() + grey.blue()) // 2)


class AssetTableModel(OrderedRowsModel):
    columns = COLUMNS
    sig_counts_changed = Signal()  # self.counts changed
    sig_assets_changed = Signal(object)  # set of ids whose state changed in the last pass
    sig_reset = Signal()  # a new snapshot replaced everything

    def __init__(
        self, apply_interval_ms: int = 100, parent: Any = None, store: AssetStore | None = None
    ) -> None:
        """Shows `store` (a store of its own when none is given: the model then takes the
        client's snapshot and changes itself, through reset() and queue_changes())."""
        super().__init__(parent)
        self.store = store if store is not None else AssetStore(apply_interval_ms, parent=self)
        self._sort_col = "status"
        self._sort_desc = False
        self._text = ""
        self._terms: list[tuple[str, str]] = []  # (field or "", term): every one must match
        self._statuses: frozenset[str] = frozenset()  # status chips: empty = any status
        self._held = False  # the pointer is over the table: rows keep their places (hold())
        self._shown = True  # a view shows the rows; while none does, rows are placed when read
        self._kind: str | None = None
        self._district: str | None = None
        self._incoming: dict[str, AssetRecord | None] = {}  # changed ids -> their record before
        self.pass_ms: deque[float] = deque(maxlen=10_000)  # cost of recent apply passes (benchmarks)
        self.relayouts = 0
        self.max_moves = 50  # rows re-placed one by one; more than that: one full re-sort
        # Rows re-placed per pass at most (~8 us each at 50,000 rows: finding, keying, inserting);
        # the rest stay where they are until the next pass, one event-loop turn later.
        self.merge_chunk = 1000
        self.split_passes = 0  # passes that left moved rows to the next one (tests, benchmarks)
        self._keys: list[Any] = []  # sort key of each visible row, parallel to _rows
        self.reset_chunk = 5000  # snapshot records ordered per event-loop turn
        self.reset_passes = 0  # slices the last snapshot took (tests, benchmarks)
        self._reset_job: Iterator[None] | None = None
        self._reset_timer = QTimer(self, singleShot=True, interval=0)
        self._reset_timer.timeout.connect(self._reset_step)
        self._timer = QTimer(self, singleShot=True, interval=0)  # the store's next tick, next turn
        self._timer.timeout.connect(self._apply_pending)
        self.store.sig_reset.connect(self._on_reset)
        self.store.sig_changed.connect(self._on_changed)
        self.store.sig_counts_changed.connect(self.sig_counts_changed)
        # Ages ("12 s") grow by themselves: repaint that column once a second.
        self._age_timer = QTimer(self, interval=1000)
        self._age_timer.timeout.connect(self._refresh_ages)
        self._age_timer.start()
        self._bold = QFont()
        self._bold.setBold(True)
        if self.store.total():
            self._on_reset()

    # ---- the store -------------------------------------------------------------------------

    @property
    def _records(self) -> dict[str, AssetRecord]:
        return self.store.records_by_id

    @property
    def counts(self) -> dict[tuple[str, str], dict[str, int]]:
        return self.store.counts

    @property
    def revision(self) -> int:
        return self.store.revision

    @property
    def changes_applied(self) -> int:
        return self.store.changes_applied

    def reset(self, records: Iterable[AssetRecord], revision: int) -> None:
        """Replace everything with a snapshot (through the store)."""
        self.store.reset(records, revision)

    def queue_changes(self, records: list[AssetRecord], revision: int, count: int) -> None:
        """Queue changes in the store; they are applied together on its next tick."""
        self.store.queue_changes(records, revision, count)

    def flush(self) -> None:
        """Apply queued changes now (tests and benchmarks)."""
        self.store.flush()
        self._finish_reset()
        self._timer.stop()
        self._apply_pending()
        while self._incoming and not self._held and self._shown:  # what a split pass left
            self._timer.stop()
            self._apply_pending()

    def loading(self) -> bool:
        """A snapshot is being ordered (the rows shown are still the previous ones)."""
        return self._reset_job is not None

    def _on_reset(self) -> None:
        self._incoming.clear()  # the snapshot holds them
        self._timer.stop()
        self.reset_passes = 0
        self._reset_job = self._reset_slices()
        self.store.hold(self, self._finish_reset)  # no change ticks until the new order shows
        self._reset_step()

    def stop(self) -> None:
        """The console closes: no slice, tick or age repaint runs after its views are gone."""
        self._reset_job = None
        for timer in (self._reset_timer, self._timer, self._age_timer):
            timer.stop()
        self.store.release(self)
        self._incoming.clear()

    def _reset_step(self) -> None:
        """One slice of the snapshot's ordering; the next one after the event loop had a turn."""
        if self._reset_job is None:
            return
        self.reset_passes += 1
        if next(self._reset_job, "done") == "done":
            self._reset_job = None
            self.store.release(self)
        else:
            self._reset_timer.start()

    def _finish_reset(self) -> None:
        """Order what is left of a snapshot now (a sort or filter asked meanwhile, tests)."""
        self._reset_timer.stop()
        while self._reset_job is not None:
            self._reset_step()

    def _reset_slices(self) -> Iterator[None]:
        """Key and sort the snapshot slice by slice, merge the sorted runs, then show it. Changes
        wait in the store meanwhile (hold); a sort or filter asked meanwhile finishes it first."""
        key, accept, desc = _sort_key(self._sort_col), self._accept, self._sort_desc
        recs = list(self._records.values())
        keyed: list[tuple[Any, str]] = []
        n, step = len(recs), self.reset_chunk
        for i in range(0, n, step):
            keyed.extend(sorted(((key(r), r.id) for r in recs[i : i + step] if accept(r)), reverse=desc))
            if n > step:  # a small snapshot is shown at once
                yield
        keyed.sort(reverse=desc)  # sorted runs: the sort merges them
        if n > step:
            yield
        keys, rows = list(map(_first, keyed)), list(map(_second, keyed))
        del keyed
        if n > step:
            yield
        pos = dict(zip(rows, range(len(rows)), strict=True))
        if n > step:
            yield
        self.beginResetModel()  # the last turn only swaps the prepared lists in
        self._keys, self._rows, self._pos = keys, rows, pos
        self.endResetModel()
        self.sig_reset.emit()

    def _on_changed(self, changes: Changes) -> None:
        incoming = self._incoming
        for old, new in changes:
            if new.id not in incoming:  # several ticks before a pass: the oldest state counts
                incoming[new.id] = old
        if not self._timer.isActive() and self._reset_job is None and self._shown:
            self._timer.start()

    def _apply_pending(self) -> None:
        """Place the rows the store changed: a few moves, or one merge, or a full relayout. A merge
        re-places at most `merge_chunk` rows; the others keep their places for one more turn."""
        if not self._incoming or self._held or not self._shown or self._reset_job is not None:
            return  # held or hidden (the values are already the latest), or a reset ordering rows
        started = time.perf_counter()
        chunk, self._incoming = self._incoming, {}
        if self.filtering():
            structural, moved, changed_rows = self._sort_out_filtered(chunk)
        else:
            structural, moved, changed_rows = self._sort_out(chunk)
        most = max(1, self.merge_chunk)  # 0 would defer everything for ever
        if not structural and len(moved) > most:  # (with a filter: found already)
            self._defer(chunk, [aid for aid, _row in moved[most:]])
            moved = moved[:most]
        if structural:
            self._relayout()
            self.relayouts += 1
        else:
            if changed_rows is None:  # many rows changed in place: one range over every row
                if self._rows:
                    last = len(self._rows) - 1
                    self.dataChanged.emit(self.createIndex(0, 0), self.createIndex(last, len(COLUMNS) - 1))
            elif changed_rows:
                self._emit_rows_changed(changed_rows)
            if len(moved) > self.max_moves:
                self._merge_moved(moved)
            else:
                key = _sort_key(self._sort_col)
                for aid, _row in moved:
                    self._move_to_sorted_place(aid, key(chunk[aid]))  # type: ignore[arg-type]
        self.sig_assets_changed.emit(set(chunk))
        cost_ms = (time.perf_counter() - started) * 1000
        self.pass_ms.append(cost_ms)
        # A pass that costs more (e.g. re-sorting 50,000 rows) stretches the store's tick.
        self.store.stretch(cost_ms)

    def _defer(self, chunk: dict[str, AssetRecord | None], later: list[str]) -> None:
        """Leave the rows of `later` where they are (and under their previous sort key) until the
        next pass: back in front of what came in meanwhile, with the state their row still has."""
        rest = {aid: chunk.pop(aid) for aid in later}
        for aid, old in self._incoming.items():
            rest.setdefault(aid, old)
        self._incoming = rest
        self.split_passes += 1
        self._timer.start()  # the next pass after the event loop had a turn

    def _row_finder(self, lookups: int) -> Callable[[str, AssetRecord], int | None]:
        """How to find the row of an asset from its previous record: the id -> row index when it
        is built or `lookups` binary searches would cost more than building it (~2 us each
        against ~0.2 us a row), else a binary search on the row's previous sort key, which
        the row still has in self._keys."""
        if self._positions_known() or lookups * 8 > len(self._rows):
            pos_get = self._pos.get
            return lambda aid, _old: pos_get(aid)
        key, locate = _sort_key(self._sort_col), self._locate
        return lambda aid, old: locate(aid, key(old))

    def _sort_out(
        self, chunk: dict[str, AssetRecord | None]
    ) -> tuple[bool, list[tuple[str, int]], list[int] | None]:
        """Without a filter every asset has a row, so only the rows that move are looked for;
        a row changed in place needs a repaint only, and past 64 of them one range over every row
        repaints what a range over theirs would (the view repaints what it shows). Finding each
        row cost ~6 us of CPU a change: 25-44 ms per pass of 4,000 `last_seen` changes at 50,000
        rows (docs/performance.md, third round). Returns (structural, moved, changed rows or None
        for every row)."""
        records = self._records
        same_place = _SORT_FIELDS[self._sort_col]
        moving: list[str] = []
        staying: list[str] = []
        for aid, old in chunk.items():
            if old is None:
                return True, [], []  # a new asset: a relayout
            (moving if same_place(old) != same_place(records[aid]) else staying).append(aid)
        most = max(1, self.merge_chunk)
        if len(moving) > most:  # the rest next pass, found then
            self._defer(chunk, moving[most:])
            moving = moving[:most]
        few = len(staying) <= 64
        find = self._row_finder(len(moving) + (len(staying) if few else 0))
        moved = [(aid, row) for aid in moving if (row := find(aid, chunk[aid])) is not None]  # type: ignore[arg-type]
        if not few:
            return False, moved, None
        return False, moved, [row for aid in staying if (row := find(aid, chunk[aid])) is not None]  # type: ignore[arg-type]

    def _sort_out_filtered(
        self, chunk: dict[str, AssetRecord | None]
    ) -> tuple[bool, list[tuple[str, int]], list[int]]:
        """With a filter each row is looked for: a change may take an asset in or out of it."""
        records = self._records
        same_place = _SORT_FIELDS[self._sort_col]
        accept = self._accept
        find = self._row_finder(len(chunk))
        changed_rows: list[int] = []
        moved: list[tuple[str, int]] = []
        for aid, old in chunk.items():
            if old is None:
                return True, [], []
            rec = records[aid]
            row = find(aid, old)
            if (row is not None) != accept(rec):
                return True, [], []
            if row is not None:
                if same_place(old) != same_place(rec):
                    moved.append((aid, row))
                else:
                    changed_rows.append(row)
        return False, moved, changed_rows

    def _locate(self, aid: str, key: Any) -> int | None:
        """The row of `aid`, whose sort key in self._keys is `key` (one binary search); the index
        when it is not there (it was placed under another state, or is not shown)."""
        keys = self._keys
        i = _bisect(keys, key, self._sort_desc)
        if i < len(keys) and self._rows[i] == aid:
            return i
        return self._pos.get(aid)

    def _emit_rows_changed(self, rows: list[int]) -> None:
        """Repaint `rows`. The rows are known to exist, so their cells are made with createIndex:
        index() asks rowCount() and columnCount() of this Python model first (~5.6 against ~1.5 us
        a cell), twice per changed row of every pass (docs/performance.md, fifth round)."""
        rows.sort()
        last_col = len(COLUMNS) - 1
        if len(rows) > 64:  # one range: the view repaints only what it shows anyway
            self.dataChanged.emit(self.createIndex(rows[0], 0), self.createIndex(rows[-1], last_col))
            return
        start = prev = rows[0]
        for r in rows[1:]:
            if r != prev + 1:
                self.dataChanged.emit(self.createIndex(start, 0), self.createIndex(prev, last_col))
                start = r
            prev = r
        self.dataChanged.emit(self.createIndex(start, 0), self.createIndex(prev, last_col))

    def _refresh_ages(self) -> None:
        if self._rows:
            col = COL["last_seen"]
            self.dataChanged.emit(
                self.createIndex(0, col),
                self.createIndex(len(self._rows) - 1, col),
                [Qt.ItemDataRole.DisplayRole],
            )

    # ---- order and filter ------------------------------------------------------------------

    def _accept(self, r: AssetRecord) -> bool:
        if self._kind is not None and r.kind != self._kind:
            return False
        if self._district is not None and r.district != self._district:
            return False
        if self._statuses and r.status not in self._statuses:
            return False
        if self._terms:
            fields = {
                "name": r.name.lower(),
                "id": r.id.lower(),
                "district": r.district.lower(),
                "reason": r.reason.lower(),
                "status": r.status,
                "kind": KIND_SINGULAR.get(r.kind, r.kind).lower() + " " + r.kind,
            }
            for field, term in self._terms:
                if field:
                    if term not in fields[field]:
                        return False
                elif not any(term in v for v in fields.values()):
                    return False
        return True

    def filtering(self) -> bool:
        return (
            self._kind is not None or self._district is not None or bool(self._terms) or bool(self._statuses)
        )

    def active_filters(self) -> list[str]:
        """The filters in force, in words (the panel shows them with one-click clear)."""
        out = []
        if self._kind is not None:
            out.append(f"kind {KIND_SINGULAR.get(self._kind, self._kind)}")
        if self._district is not None:
            out.append(f"district {self._district}")
        if self._statuses:
            out.append("status " + " or ".join(sorted(s.upper() for s in self._statuses)))
        if self._text:
            out.append(f"“{self._text}”")
        return out

    def hold(self, on: bool) -> None:
        """Keep rows where they are while the operator points at them; apply what waited after."""
        self._held = on
        if not on and self._incoming and not self._timer.isActive():
            self._timer.start()

    def set_shown(self, on: bool) -> None:
        """Whether a view shows the rows. While none does, passes wait: the changed ids (and the
        state their rows were placed under, one record an asset at most) gather until the table
        is shown again, or until someone asks where a row is (row_of, id_at). Placing rows that
        no one sees was the GUI thread's largest cost under status changes (docs/performance.md,
        fifth round); the values read are the store's, current either way."""
        self._shown = on
        if on and self._incoming and not self._timer.isActive():
            self._timer.start()

    def _catch_up(self) -> None:
        """Place the rows that waited while the table was hidden (before answering where a row is)."""
        if self._shown or not self._incoming:
            return
        self._shown = True
        try:
            while self._incoming and not self._held and self._reset_job is None:
                self._timer.stop()
                self._apply_pending()
        finally:
            self._shown = False

    def row_of(self, key: str) -> int:
        self._catch_up()
        return super().row_of(key)

    def id_at(self, row: int) -> str:
        self._catch_up()
        return super().id_at(row)

    def _ordered_rows(self) -> list[str]:
        """The visible ids in view order; also refreshes the parallel list of their sort keys."""
        key = _sort_key(self._sort_col)
        keyed = sorted(
            ((key(r), r.id) for r in self._records.values() if self._accept(r)), reverse=self._sort_desc
        )
        self._keys = [k for k, _ in keyed]
        return [aid for _, aid in keyed]

    def _relayout(self) -> None:
        """Recompute the visible rows (after a filter, a sort or changes that move many rows)."""
        self._finish_reset()
        self._apply_order(self._ordered_rows())

    def _merge_moved(self, moved: list[tuple[str, int]]) -> None:
        """Many rows changed place: cut them out by slices, then put each back at its sorted place
        with a binary search (ordered_rows.insert_sorted). Linear C copies and O(k log n)
        comparisons; merging by sorting all rows again compared every key: 48-67 ms of CPU at
        50,000 rows for 2,000 moves (docs/performance.md)."""
        key = _sort_key(self._sort_col)
        records = self._records
        cuts = sorted(row for _aid, row in moved)
        keys = without(self._keys, cuts)
        rows = without(self._rows, cuts)
        keys, rows = insert_sorted(
            keys, rows, [(key(records[aid]), aid) for aid, _row in moved], self._sort_desc
        )
        self._keys = keys
        self._layout_to(rows)  # the same ids: one layout change
        last = self.rowCount() - 1
        if last >= 0:
            self.dataChanged.emit(self.createIndex(0, 0), self.createIndex(last, len(COLUMNS) - 1))

    def _move_to_sorted_place(self, aid: str, old_key: Any) -> None:
        """Re-place one row whose sort key changed (`old_key`: its key where it stands): two
        binary searches and one row move, instead of re-sorting every row (150 ms at 50,000
        rows). The id -> row index is patched when the move is short, else rebuilt when next used."""
        rows, keys = self._rows, self._keys
        i = self._locate(aid, old_key)
        if i is None:
            return
        new_key = _sort_key(self._sort_col)(self._records[aid])
        del rows[i]
        del keys[i]
        j = _bisect(keys, new_key, self._sort_desc)
        rows.insert(i, aid)  # put it back while Qt is told about the move
        keys.insert(i, new_key)
        if j != i:
            self.beginMoveRows(QModelIndex(), i, i, QModelIndex(), j + 1 if j > i else j)
            del rows[i]
            del keys[i]
            rows.insert(j, aid)
            keys.insert(j, new_key)
            if self._positions_known() and abs(j - i) <= 256:
                pos = self._pos
                for r in range(min(i, j), max(i, j) + 1):
                    pos[rows[r]] = r
            else:
                self._pos_index = None
            self.endMoveRows()
        last = len(COLUMNS) - 1
        self.dataChanged.emit(self.createIndex(j, 0), self.createIndex(j, last))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort_col = COLUMNS[column][0]
        self._sort_desc = order == Qt.SortOrder.DescendingOrder
        self._relayout()

    def set_filter(
        self,
        text: str | None = None,
        kind: str | None = "",
        district: str | None = "",
        statuses: frozenset[str] | None = None,
    ) -> None:
        """Filter by free text and by kind/district/statuses. The text is terms that must all match
        ("fault universit"), each anywhere in name, id, district, reason, status or kind, or in one
        column with `column:term` ("district:univ kind:light"). Pass "" (the default) to leave kind or
        district unchanged, None to clear it; `statuses` None leaves them unchanged."""
        if text is not None:
            self._text = text.strip().lower()
            self._terms = [_term(t) for t in self._text.split()]
        if statuses is not None:
            self._statuses = frozenset(statuses)
        if kind != "":
            self._kind = kind
        if district != "":
            self._district = district
        self._relayout()

    # ---- queries ---------------------------------------------------------------------------

    def record(self, asset_id: str) -> AssetRecord | None:
        return self.store.record(asset_id)

    def records(self) -> Iterable[AssetRecord]:
        return self.store.records()

    def total(self) -> int:
        return self.store.total()

    # ---- Qt model interface ----------------------------------------------------------------

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:
        return [ASSET_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        """Dragged rows carry their asset ids (e.g. cameras dropped on a mosaic tile)."""
        return asset_mime(list(dict.fromkeys(self._rows[i.row()] for i in indexes if i.isValid())))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        rec = self._records.get(self._rows[index.row()])
        if rec is None:  # a row of the previous snapshot, while the new one is being ordered
            return None
        col = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            if col == "status":
                return STATUS_LABELS.get(rec.status, rec.status)
            if col == "kind":
                return KIND_SINGULAR.get(rec.kind, rec.kind)
            if col == "last_seen":
                return format_age(time.time() - rec.last_seen) if rec.last_seen else "never"
            return getattr(rec, col)
        if role == Qt.ItemDataRole.DecorationRole and col == "status":
            return status_icon(rec.status)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == "status":
                return _muted(rec.status)
            if rec.status == "offline":
                return QColor("#8b949e")  # stale data is never shown as live
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{rec.name} ({rec.id})\n{STATUS_LABELS.get(rec.status, rec.status)} {rec.reason}".strip()
        if role == ID_ROLE:
            return rec.id
        if role == RECORD_ROLE:
            return rec
        return None

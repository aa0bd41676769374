"""What controllers ask the client for, as plain values (the answers are the records of
app/models/records.py, app/models/commands.py, app/models/audit.py and app/wall/content.py).

The client turns these into vigie.v1 requests (app/client/convert.py): nothing outside
app/client builds or reads a protobuf message."""

from __future__ import annotations

from dataclasses import dataclass, replace

# Alarm states as the console names them (lower-case vigie.v1 Alarm.State names); "open" is
# every state an operator still has to look at.
OPEN_ALARM_STATES = ("unack_active", "ack_active", "rtn_unack")


@dataclass(frozen=True)
class JournalQuery:
    """A search of the alarm history (ListAlarms): empty fields do not narrow it."""

    start: float = 0.0  # unix seconds; 0: from the beginning
    kinds: tuple[str, ...] = ()  # asset kinds, lower case ("access_point")
    districts: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    states: tuple[str, ...] = ()  # lower-case state names
    text: str = ""
    page_size: int = 200
    page_token: str = ""

    def next_page(self, token: str) -> JournalQuery:
        return replace(self, page_token=token)


@dataclass(frozen=True)
class AuditQuery:
    """A search of the audit trail (ListAudit): empty fields do not narrow it."""

    user: str = ""
    action: str = ""
    result: str = ""
    text: str = ""
    start: float = 0.0  # unix seconds; 0: unbounded
    end: float = 0.0
    page_size: int = 200
    page_token: str = ""

    def next_page(self, token: str) -> AuditQuery:
        return replace(self, page_token=token)


@dataclass(frozen=True)
class SavedView:
    """A saved mosaic view (app/client/views.py): the user's own, or the room's (`shared`)."""

    name: str
    layout: str
    camera_ids: tuple[str, ...]
    shared: bool
    owner: str

    @property
    def label(self) -> str:
        """What a views list shows: shared views marked as the room's."""
        return f"{self.name}  (room)" if self.shared else self.name

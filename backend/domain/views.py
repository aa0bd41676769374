"""Saved mosaic views, per user and shared by the room: plain values and the rules on them.

A view is a console layout name and its cameras slot by slot. Each user keeps their own (they
follow the user to any console); the room's shared views are saved by supervisors. Limits keep
one user from filling the file: 100 views each, 100 shared."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_NAME = 64
MAX_LAYOUT = 32
MAX_CAMERAS = 25  # the largest console layout (5x5)
MAX_CAMERA_ID = 128
MAX_VIEWS = 100  # per user, and shared
LAYOUT_RE = re.compile(r"^[0-9A-Za-z+ x-]+$")


class InvalidView(ValueError):
    """A view the rules refuse; the message says which rule."""


class TooManyViews(Exception):
    pass


class UnknownView(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class View:
    name: str
    layout: str
    camera_ids: tuple[str, ...]
    shared: bool
    owner: str
    updated_at: float


@dataclass
class ViewBook:
    """Every saved view: `own[user][name]` and `shared[name]`."""

    own: dict[str, dict[str, View]] = field(default_factory=dict)
    shared: dict[str, View] = field(default_factory=dict)

    def visible_to(self, user: str) -> list[View]:
        """The user's own views, then the shared ones, each by name."""
        mine = sorted(self.own.get(user, {}).values(), key=lambda v: v.name)
        return mine + sorted(self.shared.values(), key=lambda v: v.name)

    def save(self, user: str, view: View) -> View:
        check(view)
        book = self.shared if view.shared else self.own.setdefault(user, {})
        if view.name not in book and len(book) >= MAX_VIEWS:
            raise TooManyViews(
                f"{MAX_VIEWS} {'shared views' if view.shared else 'views for ' + user} already: delete one first"
            )
        book[view.name] = view
        return view

    def delete(self, user: str, name: str, shared: bool) -> View:
        book = self.shared if shared else self.own.get(user, {})
        if name not in book:
            raise UnknownView(f"no {'shared ' if shared else ''}view named {name!r}")
        return book.pop(name)


def check(view: View) -> None:
    """The rules of a view, each refusal naming its field."""
    if not view.name.strip() or len(view.name) > MAX_NAME:
        raise InvalidView(f"name: 1 to {MAX_NAME} characters")
    if any(ord(c) < 32 for c in view.name):
        raise InvalidView("name: no control characters")
    if not view.layout or len(view.layout) > MAX_LAYOUT or not LAYOUT_RE.match(view.layout):
        raise InvalidView(f"layout: 1 to {MAX_LAYOUT} characters of letters, digits, '+', 'x', '-' or spaces")
    if len(view.camera_ids) > MAX_CAMERAS:
        raise InvalidView(f"camera_ids: at most {MAX_CAMERAS} cameras")
    if any(len(c) > MAX_CAMERA_ID for c in view.camera_ids):
        raise InvalidView(f"camera_ids: each at most {MAX_CAMERA_ID} characters")

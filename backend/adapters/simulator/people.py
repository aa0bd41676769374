"""The simulated city's cardholders, and the badges they present at access points all day.

The directory (people, their badges, organisation and group) is generated from the seed. While
the city runs, people badge in at a rate of `rate` per second (Poisson), each at a door of the
buildings their group works in (carers at schools and crèches, caretakers anywhere, police and
cleaning crews too), at online doors only; a listener (the backend's access control) decides.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from vigie.backend.cancel import cancel_and_wait
from vigie.backend.domain.access import Cardholder
from vigie.backend.domain.assets import Asset, Kind, Status

log = logging.getLogger(__name__)

FIRST_NAMES = [
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Emma", "Lucie", "Anaïs",
    "Thomas", "Lucas", "Hugo", "Nicolas", "Julien", "Antoine", "Maxime", "Karim", "Mehdi", "Paul",
    "Claire", "Sophie", "Nadia", "Yasmine", "Pierre", "Louis", "Théo", "Mathis", "Elise", "Agathe",
]  # fmt: skip
LAST_NAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "Andre", "Mercier", "Dupont", "Lambert", "Bonnet", "Francois", "Martinez", "Benali",
]  # fmt: skip
# group, organisation, share of the directory, building types they badge at ("" : any)
GROUPS: list[tuple[str, str, int, tuple[str, ...]]] = [
    (
        "carers",
        "CHU Dijon Bourgogne — soins à domicile",
        12,
        ("École élémentaire", "École maternelle", "Crèche"),
    ),
    ("caretakers", "Ville de Dijon — Bâtiments", 8, ()),
    ("municipal police", "Police municipale de Dijon", 6, ()),
    ("cleaning crews", "Dijon Propreté Services", 8, ()),
    ("teachers", "Éducation nationale — Académie de Dijon", 30, ("École élémentaire", "École maternelle")),
    ("sports staff", "Ville de Dijon — Sports", 10, ("Gymnase", "Piscine")),
    ("culture staff", "Ville de Dijon — Culture", 8, ("Bibliothèque", "Musée", "Conservatoire")),
    ("social workers", "CCAS de Dijon", 10, ("Centre social", "Maison de quartier", "Mairie annexe")),
    ("association members", "Associations de quartier", 8, ("Maison de quartier", "Centre social")),
]
PEOPLE = 400


def generate_people(seed: int, count: int = PEOPLE) -> list[Cardholder]:
    rng = random.Random(seed * 104_729 + 11)
    groups = [g for g in GROUPS for _ in range(g[2])]
    out = []
    badge = 1
    for k in range(1, count + 1):
        group, org, _, _ = rng.choice(groups)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        n = 2 if rng.random() < 0.15 else 1  # a spare badge now and then
        badges = tuple(f"B-{badge + i:05d}" for i in range(n))
        badge += n
        out.append(Cardholder(f"p-{k:04d}", name, org, group, badges))
    return out


class BadgeTraffic:
    """People badging in at doors; `listener(door id, badge id, unix time)` decides."""

    def __init__(self, people: list[Cardholder], seed: int, rate: float) -> None:
        self.people = people
        self.rate = max(0.0, rate)
        self.rng = random.Random(seed * 7 + 3)
        self.listener: Callable[[str, str, float], None] | None = None
        self._task: asyncio.Task | None = None
        self._where = {g: types for g, _, _, types in GROUPS}

    def start(self, doors: Callable[[], list[Asset]]) -> None:
        if self.rate > 0 and self.people:
            self._task = asyncio.get_running_loop().create_task(self._run(doors), name="badge-traffic")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def present(self, door_id: str, badge_id: str, now: float | None = None) -> None:
        """A badge presented at a door (the traffic below; tests present their own)."""
        if self.listener is not None:
            self.listener(door_id, badge_id, time.time() if now is None else now)

    async def _run(self, doors: Callable[[], list[Asset]]) -> None:
        while True:
            await asyncio.sleep(self.rng.expovariate(self.rate))
            try:
                person = self.rng.choice(self.people)
                types = self._where.get(person.group, ())
                online = [
                    d
                    for d in doors()
                    if d.kind is Kind.ACCESS_POINT
                    and d.status is not Status.OFFLINE
                    and (not types or d.attributes.get("building_type") in types)
                ]
                if online:
                    self.present(self.rng.choice(online).id, self.rng.choice(person.badge_ids))
            except Exception:  # keep the people walking: one bad decision must not stop them
                log.exception("badge traffic failed")

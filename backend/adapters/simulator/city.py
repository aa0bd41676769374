"""A deterministic, Dijon-sized city: road graph, districts, tram lines and every device.

Everything is generated from one seed with `random.Random` (and a numpy generator seeded from
it for the bulk street lights), so the same seed always yields the same city and the tests and
demo screenshots are reproducible. Geometry is built in metres on a local plane centred on
Dijon (x east, y north) and converted to WGS84 only for assets and GeoJSON.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from vigie.backend.adapters.simulator.city_tags import tag_assets
from vigie.backend.domain.assets import Asset, Kind, Status

CENTER_LAT = 47.322
CENTER_LON = 5.041
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(CENTER_LAT))

HALF_W = 3600.0  # the city rectangle is 7.2 km x 5.2 km
HALF_H = 2600.0
GRID_STEP = 250.0

CAMERAS = 269
SIGNALS = 110
BOLLARDS = 50
ACCESS_POINTS = 130
DELIVERY_BAYS = 200
WATER_SENSORS = 150
DEFAULT_LOW_PRESSURE_PCT = "60"  # a water sensor's low-pressure alarm threshold, % of nominal
POLICE = 20
TECHNICAL = 40
LIGHTS_PER_CIRCUIT = 40

# Districts around the centre: (name, start angle, end angle) in degrees, 0 = east, counter-clockwise.
SECTORS: list[tuple[str, float, float]] = [
    ("Maladière", -10, 30),
    ("Grésilles", 30, 60),
    ("Toison d'Or", 60, 105),
    ("Montchapet", 105, 150),
    ("Faubourg Raines", 150, 185),
    ("Fontaine d'Ouche", 185, 230),
    ("Bourroches", 230, 265),
    ("Chevreul-Parc", 265, 300),
    ("Université", 300, 350),
]
CENTRE = "Centre-Ville"

AVENUES: list[tuple[str, float]] = [
    ("Avenue du Maréchal Foch", 178),
    ("Avenue Victor Hugo", 128),
    ("Avenue du Drapeau", 82),
    ("Avenue Aristide Briand", 38),
    ("Rue d'Auxonne", -22),
    ("Avenue Jean Jaurès", -100),
    ("Boulevard de Chèvre-Morte", -140),
]

PEOPLE = [
    "Pasteur",
    "Voltaire",
    "Condorcet",
    "Jules Ferry",
    "Marie Curie",
    "Gustave Eiffel",
    "Colette",
    "Champollion",
    "Berlioz",
    "Rameau",
    "Buffon",
    "Bossuet",
    "Lamartine",
    "Racine",
    "Molière",
    "Montesquieu",
    "Diderot",
    "Danton",
    "Carnot",
    "Monge",
    "Chabot-Charny",
    "Vauban",
    "Turgot",
    "Jean Moulin",
    "Charles de Gaulle",
    "Gambetta",
    "Clemenceau",
    "Jean Macé",
    "Paul Bert",
    "Émile Zola",
    "Alfred de Musset",
    "George Sand",
    "Anatole France",
    "Stendhal",
    "Mirabeau",
    "Sadi Carnot",
    "Henri Barbusse",
    "Louis Blériot",
    "Parmentier",
    "Lavoisier",
    "Ampère",
    "Jacquard",
    "Daubenton",
    "Piron",
    "Crébillon",
    "Rude",
    "Févret",
    "Chancelier de l'Hospital",
    "Jeannin",
    "Verrerie",
    "Musette",
    "Godrans",
    "Bannelier",
    "Devosge",
    "Petit Potet",
    "Amiral Roussin",
    "Vannerie",
    "Buffon",
    "Quentin",
    "Charrue",
    "Auguste Comte",
    "Longvic",
    "Mulhouse",
    "Nuits",
    "Talant",
    "Fontaine",
    "Sévigné",
    "Jouvence",
    "Gray",
    "Mirande",
    "Dumay",
    "Montmartre",
    "Tivoli",
    "Mably",
    "Ledru-Rollin",
    "Marceau",
    "Hoche",
    "Kléber",
    "Jeanne d'Arc",
    "Roger Salengro",
    "Eugène Spuller",
    "Paul Cabet",
    "Audra",
    "Berbisey",
    "Pierre Curie",
    "Albert Camus",
    "Victor Dumay",
    "Nicolas Berthot",
    "Antoine Magnin",
]
PLACES = [
    "de la Gare",
    "des Tilleuls",
    "du Transvaal",
    "des Perrières",
    "de Talant",
    "des Marmuzots",
    "de Jouvence",
    "du Chapeau Rouge",
    "des Forges",
    "de la Préfecture",
    "du Petit Bernard",
    "des Moulins",
    "de la Manutention",
    "des Rotondes",
    "du Lac",
    "de la Fontaine",
    "des Corroyeurs",
    "de l'Arquebuse",
    "du Nord",
    "des Ateliers",
    "de la Charmette",
    "des Marcs d'Or",
    "du Port",
    "de Pouilly",
    "de Plombières",
    "de Montchapet",
    "de la Colombière",
    "des Grands Champs",
    "de Larrey",
    "des Vergers",
    "du Parc",
    "des Écoles",
    "de l'Île",
    "des Saules",
    "de Varennes",
    "de la Redoute",
    "du Lycée",
    "des Jardins",
    "de Bellevue",
    "de Ruffey",
    "des Vignes",
    "de la Rente Logerot",
]
STREET_PREFIXES = ["Rue", "Rue", "Rue", "Rue", "Rue", "Boulevard", "Allée"]

BUILDING_TYPES = [
    ("École élémentaire", 30),
    ("École maternelle", 25),
    ("Gymnase", 15),
    ("Bibliothèque", 10),
    ("Mairie annexe", 8),
    ("Crèche", 12),
    ("Maison de quartier", 10),
    ("Piscine", 4),
    ("Centre social", 6),
    ("Conservatoire", 2),
    ("Ateliers municipaux", 4),
    ("Musée", 4),
]
ENTRANCES = ["entrée principale", "entrée principale", "entrée de service", "accès personnel", "portail"]
CAMERA_MODELS = ["Axis P1468-LE", "Hanwha XNO-8080R", "Bosch Flexidome 5100i", "Axis M3216-LVE"]
PTZ_MODELS = ["Axis Q6155-E", "Hanwha XNP-6400RW", "Bosch Autodome 7100i"]
TECH_SERVICES = ["Voirie", "Éclairage", "Propreté", "Espaces verts", "Eau"]

TRAM_LINES: dict[str, list[tuple[str, float, float]]] = {
    "T1": [
        ("Dijon Gare", -1300, 50),
        ("Foch Gare", -1000, 90),
        ("Darcy", -600, 130),
        ("Godrans", -150, 250),
        ("République", 250, 450),
        ("Auditorium", 700, 400),
        ("Poincaré", 1100, 250),
        ("Mirande", 1500, -100),
        ("Université", 1900, -300),
        ("Érasme", 2300, -250),
        ("Parc Technologique", 2700, -100),
        ("Piscine Olympique", 3000, 100),
        ("Grand Marché", 3250, 250),
        ("Quetigny Centre", 3450, 350),
    ],
    "T2": [
        ("Valmy", 200, 2450),
        ("Pôle Santé", 150, 2100),
        ("Toison d'Or", 350, 1750),
        ("Drapeau", 300, 1300),
        ("Nation", 260, 750),
        ("République", 230, 430),
        ("Godrans", -120, 230),
        ("Darcy", -580, 110),
        ("Monge", -700, -400),
        ("Jaurès", -650, -850),
        ("Bourroches", -700, -1300),
        ("Carraz", -650, -1750),
        ("Le Mail", -600, -2150),
        ("Chenôve Centre", -550, -2450),
    ],
}

PARKS: list[tuple[str, float, float, float, float]] = [  # name, centre x, y, half width, half height
    ("Parc de la Colombière", 1100, -1700, 260, 190),
    ("Jardin de l'Arquebuse", -1150, -250, 150, 110),
    ("Jardin Darcy", -520, 180, 60, 45),
    ("Parc de la Toison d'Or", 650, 2000, 220, 160),
    ("Combe à la Serpent", -3200, 1600, 350, 500),
]
RIVER_OUCHE = [
    (-3600, -120),
    (-3000, -220),
    (-2200, -480),
    (-1500, -700),
    (-1000, -900),
    (-400, -1220),
    (300, -1520),
    (900, -2100),
    (1400, -2600),
]
LAKE_KIR = (-3150, -60, 330, 160)

# Kind-specific (status, reason, weight) for faults and events; shared with the simulator.
REASONS: dict[Kind, list[tuple[Status, str, float]]] = {
    Kind.CAMERA: [
        (Status.OFFLINE, "stream lost", 3),
        (Status.WARNING, "image degraded", 2),
        (Status.WARNING, "lens obstructed", 1),
        (Status.FAULT, "encoder failure", 1),
        (Status.MAINTENANCE, "lens cleaning", 1),
    ],
    Kind.TRAFFIC_SIGNAL: [
        (Status.OFFLINE, "controller offline", 2),
        (Status.FAULT, "red lamp failure", 2),
        (Status.WARNING, "detector loop fault", 2),
        (Status.MAINTENANCE, "signal timing update", 1),
    ],
    Kind.STREET_LIGHT: [
        (Status.FAULT, "lamp failure", 4),
        (Status.WARNING, "lamp flickering", 2),
        (Status.OFFLINE, "circuit communication lost", 1),
        (Status.MAINTENANCE, "lamp replacement", 1),
    ],
    Kind.BOLLARD: [
        (Status.FAULT, "bollard stuck in raised position", 2),
        (Status.FAULT, "bollard stuck in lowered position", 1),
        (Status.WARNING, "hydraulic pressure low", 1),
        (Status.OFFLINE, "controller offline", 1),
        (Status.MAINTENANCE, "hydraulic service", 1),
    ],
    Kind.ACCESS_POINT: [
        (Status.WARNING, "door forced", 1),
        (Status.WARNING, "door held open", 2),
        (Status.FAULT, "badge reader fault", 1),
        (Status.OFFLINE, "access controller offline", 1),
    ],
    Kind.DELIVERY_BAY: [
        (Status.WARNING, "overstay", 3),
        (Status.FAULT, "occupancy sensor fault", 1),
        (Status.OFFLINE, "sensor battery depleted", 1),
    ],
    Kind.WATER_SENSOR: [
        (Status.WARNING, "pressure low", 3),
        (Status.FAULT, "leak suspected", 1),
        (Status.OFFLINE, "telemetry link lost", 1),
        (Status.MAINTENANCE, "sensor calibration", 1),
    ],
    Kind.TRAM_STATION: [
        (Status.WARNING, "service disrupted", 2),
        (Status.FAULT, "passenger display failure", 1),
        (Status.FAULT, "ticket machine out of order", 1),
        (Status.MAINTENANCE, "platform works", 1),
    ],
    Kind.VEHICLE: [(Status.OFFLINE, "radio link lost", 1)],
}


@dataclass(frozen=True, slots=True)
class Street:
    """One street segment between two junctions (indices into `City.nodes`)."""

    u: int
    v: int
    name: str
    cls: str  # "street", "avenue" or "ring"
    length_m: float


@dataclass(frozen=True, slots=True)
class District:
    name: str
    polygon: list[tuple[float, float]]  # (lon, lat), closed implicitly


@dataclass(frozen=True, slots=True)
class TramLine:
    name: str
    path: list[tuple[float, float]]  # (lon, lat)
    stations: list[tuple[str, float, float]]  # (name, lat, lon)


@dataclass
class City:
    """The generated city. `nodes` are junctions in local metres (x east, y north)."""

    seed: int
    nodes: np.ndarray
    streets: list[Street]
    adjacency: list[list[int]]  # node -> indices into `streets`
    districts: list[District]
    tram_lines: list[TramLine]
    assets: list[Asset]
    bounds: tuple[float, float, float, float]  # lat_min, lon_min, lat_max, lon_max
    parks: list[tuple[str, list[tuple[float, float]]]] = field(default_factory=list)
    water: list[tuple[str, str, list[tuple[float, float]]]] = field(
        default_factory=list
    )  # name, geometry, coords

    def node_latlon(self, i: int) -> tuple[float, float]:
        x, y = self.nodes[i]
        return to_latlon(float(x), float(y))

    def district_of(self, lat: float, lon: float) -> str:
        """The district containing a point (the centre one, else by bearing from the centre)."""
        x, y = to_xy(lat, lon)
        return district_names()[int(district_index(np.array([x]), np.array([y]))[0])]

    def geojson_layers(self) -> dict[str, dict]:
        """Basemap layers as GeoJSON FeatureCollections (coordinates are [lon, lat])."""
        streets, ring = [], []
        for s in self.streets:
            a, b = self.nodes[s.u], self.nodes[s.v]
            coords = [list(_lonlat(*a)), list(_lonlat(*b))]
            feat = _feature("LineString", coords, {"name": s.name, "class": s.cls})
            (ring if s.cls == "ring" else streets).append(feat)
        tram = [
            _feature(
                "LineString", [list(p) for p in line.path], {"line": line.name, "name": f"Tram {line.name}"}
            )
            for line in self.tram_lines
        ]
        tram += [
            _feature("Point", [lon, lat], {"line": line.name, "name": name})
            for line in self.tram_lines
            for name, lat, lon in line.stations
        ]
        districts = [
            _feature("Polygon", [[list(p) for p in d.polygon] + [list(d.polygon[0])]], {"name": d.name})
            for d in self.districts
        ]
        parks = [
            _feature("Polygon", [[list(p) for p in poly] + [list(poly[0])]], {"name": n})
            for n, poly in self.parks
        ]
        water = []
        for name, geom, coords in self.water:
            if geom == "Polygon":
                water.append(
                    _feature("Polygon", [[list(p) for p in coords] + [list(coords[0])]], {"name": name})
                )
            else:
                water.append(_feature("LineString", [list(p) for p in coords], {"name": name}))
        return {
            "streets": _collection(streets),
            "ring": _collection(ring),
            "tram": _collection(tram),
            "districts": _collection(districts),
            "water": _collection(water),
            "parks": _collection(parks),
        }


def to_latlon(x: float, y: float) -> tuple[float, float]:
    return CENTER_LAT + y / M_PER_DEG_LAT, CENTER_LON + x / M_PER_DEG_LON


def to_xy(lat: float, lon: float) -> tuple[float, float]:
    return (lon - CENTER_LON) * M_PER_DEG_LON, (lat - CENTER_LAT) * M_PER_DEG_LAT


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lat, lon = to_latlon(float(x), float(y))
    return lon, lat


def _feature(geom: str, coords: list, props: dict) -> dict:
    return {"type": "Feature", "geometry": {"type": geom, "coordinates": coords}, "properties": props}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def bearing_deg(x0: float, y0: float, x1: float, y1: float) -> float:
    """Compass bearing (0 = north, clockwise) from one local point to another."""
    return math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360.0


def points_in_polygon(px: np.ndarray, py: np.ndarray, poly: list[tuple[float, float]]) -> np.ndarray:
    """Vectorised even-odd ray casting; works on any planar coordinates (here lon/lat or metres)."""
    inside = np.zeros(px.shape, dtype=bool)
    n = len(poly)
    for i in range(n):
        x1, y1 = poly[i]
        x2, y2 = poly[(i + 1) % n]
        if y1 == y2:
            continue
        crosses = (py < y1) != (py < y2)
        xi = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (px < xi)
    return inside


# --- districts ------------------------------------------------------------------------------------

_CENTRE_POLY: list[tuple[float, float]] = []  # metres; fixed shape (not seeded) so districts are stable


def _centre_polygon() -> list[tuple[float, float]]:
    """Centre-Ville: an irregular ellipse with a vertex every 5 degrees (sector borders are vertices)."""
    if not _CENTRE_POLY:
        jitter = random.Random(21000)  # the map's shape is the same for every seed, like a real city
        for k in range(72):
            a = math.radians(-10 + 5 * k)
            # Polar radius of a 900 m x 680 m ellipse, so vertex k lies exactly on the ray at its angle
            # (the sector borders run along those rays).
            r = (1.0 + jitter.uniform(-0.07, 0.07)) / math.hypot(math.cos(a) / 900, math.sin(a) / 680)
            _CENTRE_POLY.append((r * math.cos(a), r * math.sin(a)))
    return _CENTRE_POLY


def _ray_to_rect(angle_deg: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    t = min(HALF_W / abs(c) if abs(c) > 1e-12 else math.inf, HALF_H / abs(s) if abs(s) > 1e-12 else math.inf)
    return t * c, t * s


def _sector_polygon(a0: float, a1: float) -> list[tuple[float, float]]:
    inner = _centre_polygon()
    pts = [inner[int(round((a - (-10)) / 5)) % 72] for a in np.arange(a0, a1 + 0.1, 5.0)]
    pts.append(_ray_to_rect(a1))
    corners = []
    for cx, cy in ((HALF_W, HALF_H), (-HALF_W, HALF_H), (-HALF_W, -HALF_H), (HALF_W, -HALF_H)):
        ca = (math.degrees(math.atan2(cy, cx)) - a0) % 360.0 + a0
        if a0 < ca < a1:
            corners.append((ca, (cx, cy)))
    pts += [p for _, p in sorted(corners, reverse=True)]
    pts.append(_ray_to_rect(a0))
    return pts


def district_names() -> list[str]:
    return [CENTRE] + [s[0] for s in SECTORS]


def district_index(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """District index per point (0 = Centre-Ville, then SECTORS order); vectorised for 50k lights."""
    theta = (np.degrees(np.arctan2(y, x)) - SECTORS[0][1]) % 360.0
    ends = np.array([s[2] - SECTORS[0][1] for s in SECTORS])
    idx = np.minimum(np.searchsorted(ends, theta, side="right"), len(SECTORS) - 1) + 1
    near = x * x / 1000.0**2 + y * y / 780.0**2 < 1.0  # cheap pre-filter before the exact test
    if near.any():
        inside = points_in_polygon(x[near], y[near], _centre_polygon())
        sub = idx[near]
        sub[inside] = 0
        idx[near] = sub
    return idx


def _districts() -> list[District]:
    out = [District(CENTRE, [_lonlat(x, y) for x, y in _centre_polygon()])]
    for name, a0, a1 in SECTORS:
        out.append(District(name, [_lonlat(x, y) for x, y in _sector_polygon(a0, a1)]))
    return out


# --- generation -----------------------------------------------------------------------------------


class _Builder:
    """Accumulates the road graph; kept separate so `generate_city` reads top-down."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.xy: list[tuple[float, float]] = []
        self.edges: list[Street] = []
        self.edge_keys: set[tuple[int, int]] = set()
        self.names = [f"{p} {n}" for n in dict.fromkeys(PEOPLE) for p in [rng.choice(STREET_PREFIXES)]]
        self.names += [f"{p} {n}" for n in PLACES for p in [rng.choice(STREET_PREFIXES)]]
        rng.shuffle(self.names)

    def node(self, x: float, y: float) -> int:
        self.xy.append((x, y))
        return len(self.xy) - 1

    def edge(self, u: int, v: int, name: str, cls: str) -> None:
        key = (min(u, v), max(u, v))
        if u == v or key in self.edge_keys:
            return
        self.edge_keys.add(key)
        (x0, y0), (x1, y1) = self.xy[u], self.xy[v]
        self.edges.append(Street(u, v, name, cls, math.hypot(x1 - x0, y1 - y0)))

    def street_name(self) -> str:
        if self.names:
            return self.names.pop()
        return f"Chemin {self.rng.choice(PLACES)}"


def generate_city(seed: int = 1, lights: int = 5000, vehicles: int = POLICE + TECHNICAL) -> City:
    """Build the whole city for `seed`; 50,000 lights take well under a second of numpy work."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(rng.getrandbits(63))
    b = _Builder(rng)

    # Perturbed grid of streets: rows and columns each carry one or two street names.
    nx, ny = int(2 * 3500 / GRID_STEP) + 1, int(2 * 2500 / GRID_STEP) + 1
    grid = np.empty((ny, nx), dtype=int)
    for j in range(ny):
        for i in range(nx):
            x = -3500 + i * GRID_STEP + rng.uniform(-45, 45)
            y = -2500 + j * GRID_STEP + rng.uniform(-45, 45)
            grid[j, i] = b.node(x, y)
    centre_row = ny // 2
    for j in range(ny):
        split = rng.randrange(3, nx - 3)
        names = (
            ("Rue de la Liberté", b.street_name()) if j == centre_row else (b.street_name(), b.street_name())
        )
        for i in range(nx - 1):
            if j != centre_row and rng.random() < 0.05:
                continue  # a few missing blocks make the grid look less like a chessboard
            b.edge(int(grid[j, i]), int(grid[j, i + 1]), names[i >= split], "street")
    for i in range(nx):
        split = rng.randrange(3, ny - 3)
        names = (b.street_name(), b.street_name())
        for j in range(ny - 1):
            if rng.random() < 0.05:
                continue
            b.edge(int(grid[j, i]), int(grid[j + 1, i]), names[j >= split], "street")
    n_grid = len(b.xy)
    grid_xy = np.array(b.xy)

    def nearest_grid(x: float, y: float) -> int:
        d = (grid_xy[:, 0] - x) ** 2 + (grid_xy[:, 1] - y) ** 2
        return int(np.argmin(d))

    # Ring road: a wobbly ellipse of ~3 km radius, linked to the grid every few nodes.
    ring_nodes = []
    for k in range(64):
        a = 2 * math.pi * k / 64
        r = 1.0 + 0.03 * math.sin(3 * a + 1.0) + rng.uniform(-0.01, 0.01)
        ring_nodes.append(b.node(3050 * r * math.cos(a), 2250 * r * math.sin(a)))
    for k in range(64):
        a_deg = 360 * k / 64
        name = (
            "LiNO" if 110 <= a_deg < 250 else ("Rocade Est" if a_deg < 110 or a_deg >= 330 else "Rocade Sud")
        )
        b.edge(ring_nodes[k], ring_nodes[(k + 1) % 64], name, "ring")
        if k % 4 == 0:
            b.edge(ring_nodes[k], nearest_grid(*b.xy[ring_nodes[k]]), f"Échangeur {name}", "street")

    # Avenues radiating from the centre to the edge of the city, tied into the grid.
    hub = nearest_grid(0.0, 0.0)
    for name, angle in AVENUES:
        a = math.radians(angle + rng.uniform(-3, 3))
        ex, ey = _ray_to_rect(math.degrees(a))
        length = math.hypot(ex, ey) - 80
        prev = hub
        steps = int(length // 300)
        for s in range(1, steps + 1):
            r = s * 300.0
            wob = rng.uniform(-25, 25)
            x = r * math.cos(a) - wob * math.sin(a)
            y = r * math.sin(a) + wob * math.cos(a)
            n = b.node(x, y)
            b.edge(prev, n, name, "avenue")
            if s % 2 == 0:
                b.edge(n, nearest_grid(x, y), name, "avenue")
            prev = n

    nodes = np.array(b.xy)
    adjacency: list[list[int]] = [[] for _ in range(len(nodes))]
    for e, s in enumerate(b.edges):
        adjacency[s.u].append(e)
        adjacency[s.v].append(e)
    streets = b.edges

    assets: list[Asset] = []
    _place_cameras(rng, nrng, nodes, streets, adjacency, assets)
    _place_signals(nrng, nodes, streets, adjacency, n_grid, assets)
    _place_lights(nrng, nodes, streets, lights, assets)
    _place_points(rng, nodes, streets, adjacency, assets)
    _place_tram(assets)
    _place_vehicles(rng, nodes, adjacency, assets, vehicles)
    _assign_districts_and_status(rng, assets)
    tag_assets(assets, streets, adjacency, RIVER_OUCHE, to_xy)  # for the city modes

    lat0, lon0 = to_latlon(-HALF_W, -HALF_H)
    lat1, lon1 = to_latlon(HALF_W, HALF_H)
    tram_lines = [
        TramLine(
            line,
            [_lonlat(x, y) for _, x, y in stations],
            [(name, *to_latlon(x, y)) for name, x, y in stations],
        )
        for line, stations in TRAM_LINES.items()
    ]
    parks = [
        (
            name,
            [
                _lonlat(cx + hw * math.cos(a) * (1 + 0.1 * math.sin(3 * a)), cy + hh * math.sin(a))
                for a in _angles(16)
            ],
        )
        for name, cx, cy, hw, hh in PARKS
    ]
    lx, ly, lw, lh = LAKE_KIR
    water = [
        ("Ouche", "LineString", [_lonlat(x, y) for x, y in RIVER_OUCHE]),
        ("Lac Kir", "Polygon", [_lonlat(lx + lw * math.cos(a), ly + lh * math.sin(a)) for a in _angles(20)]),
    ]
    return City(
        seed=seed,
        nodes=nodes,
        streets=streets,
        adjacency=adjacency,
        districts=_districts(),
        tram_lines=tram_lines,
        assets=assets,
        bounds=(lat0, lon0, lat1, lon1),
        parks=parks,
        water=water,
    )


def _angles(n: int) -> list[float]:
    return [2 * math.pi * k / n for k in range(n)]


def _ll(x: float, y: float) -> tuple[float, float]:
    return to_latlon(x, y)


def _central_weights(nodes: np.ndarray, scale: float) -> np.ndarray:
    r = np.hypot(nodes[:, 0], nodes[:, 1] * 1.3)
    w = 1.0 / (1.0 + (r / scale) ** 2)
    return w / w.sum()


def _place_cameras(rng, nrng, nodes, streets, adjacency, assets) -> None:
    """~2/3 at junctions looking down one of their streets, the rest mid-block on main roads."""
    at_junction = 180
    w = _central_weights(nodes, 1500.0)
    deg = np.array([len(a) for a in adjacency])
    w = np.where(deg > 0, w, 0.0)
    w /= w.sum()
    chosen = nrng.choice(len(nodes), size=at_junction, replace=False, p=w)
    spots: list[tuple[float, float, float, str]] = []
    for n in chosen:
        e = streets[rng.choice(adjacency[int(n)])]
        other = e.v if e.u == n else e.u
        x0, y0 = nodes[n]
        x1, y1 = nodes[other]
        hd = bearing_deg(x0, y0, x1, y1)
        spots.append((x0 + 4, y0 + 4, hd, e.name))
    main = [s for s in streets if s.cls != "street"]
    for e in rng.sample(main, CAMERAS - at_junction):
        x0, y0 = nodes[e.u]
        x1, y1 = nodes[e.v]
        t = rng.uniform(0.3, 0.7)
        hd = bearing_deg(x0, y0, x1, y1)
        if rng.random() < 0.5:
            hd = (hd + 180) % 360
        spots.append((x0 + t * (x1 - x0), y0 + t * (y1 - y0), hd, e.name))
    for k, (x, y, hd, street) in enumerate(spots, 1):
        ptz = rng.random() < 0.25
        lat, lon = _ll(x, y)
        assets.append(
            Asset(
                id=f"cam-{k:04d}",
                kind=Kind.CAMERA,
                name=f"Caméra {street} #{k}",
                district="",
                lat=lat,
                lon=lon,
                heading_deg=round(hd, 1),
                attributes={
                    "model": rng.choice(PTZ_MODELS if ptz else CAMERA_MODELS),
                    "ip": f"10.20.{k // 250}.{k % 250 + 2}",
                    "ptz": "true" if ptz else "false",
                    "street": street,
                },
            )
        )


def _place_signals(nrng, nodes, streets, adjacency, n_grid, assets) -> None:
    deg = np.array([len(a) for a in adjacency])
    w = _central_weights(nodes, 1800.0) * np.where(deg >= 3, 1.0, 0.0)
    w[n_grid:] *= 3.0  # avenue and ring junctions carry the heavy traffic
    w /= w.sum()
    chosen = nrng.choice(len(nodes), size=SIGNALS, replace=False, p=w)
    for k, n in enumerate(sorted(int(c) for c in chosen), 1):
        names = list(dict.fromkeys(streets[e].name for e in adjacency[n]))
        label = " / ".join(names[:2])
        lat, lon = _ll(*nodes[n])
        assets.append(
            Asset(
                id=f"sig-{k:04d}",
                kind=Kind.TRAFFIC_SIGNAL,
                name=f"Carrefour {label}",
                district="",
                lat=lat,
                lon=lon,
                attributes={
                    "mode": "normal",
                    "plan": "normal",
                    "bus_priority": "off",
                    "approaches": str(len(adjacency[n])),
                    "node": str(n),
                },
            )
        )


def _place_lights(nrng, nodes, streets, count, assets) -> None:
    """Evenly spaced (with jitter) along all streets in street order, alternating sides."""
    if count <= 0:
        return
    u = np.array([s.u for s in streets])
    v = np.array([s.v for s in streets])
    lengths = np.array([s.length_m for s in streets])
    cum = np.concatenate(([0.0], np.cumsum(lengths)))
    spacing = cum[-1] / count
    pos = (np.arange(count) + 0.5 + nrng.uniform(-0.3, 0.3, count)) * spacing
    e = np.clip(np.searchsorted(cum, pos, side="right") - 1, 0, len(streets) - 1)
    t = (pos - cum[e]) / lengths[e]
    p0, p1 = nodes[u[e]], nodes[v[e]]
    d = p1 - p0
    norm = np.hypot(d[:, 0], d[:, 1])[:, None]
    perp = np.stack([-d[:, 1], d[:, 0]], axis=1) / norm
    side = np.where(np.arange(count) % 2 == 0, 1.0, -1.0) * nrng.uniform(6, 10, count)
    xy = p0 + d * t[:, None] + perp * side[:, None]
    lat = (CENTER_LAT + xy[:, 1] / M_PER_DEG_LAT).tolist()
    lon = (CENTER_LON + xy[:, 0] / M_PER_DEG_LON).tolist()
    circuit = np.arange(count) // LIGHTS_PER_CIRCUIT
    n_circ = int(circuit[-1]) + 1
    circ_level = nrng.choice(np.array(["100", "100", "100", "70", "50"]), size=n_circ).tolist()
    circ_names = [f"C-{c + 1:03d}" for c in range(n_circ)]
    classes = {"street": "70", "avenue": "110", "ring": "150"}
    rated = [classes[s.cls] for s in streets]
    names = [s.name for s in streets]
    e_list = e.tolist()
    circ_list = circuit.tolist()
    append = assets.append
    light = Kind.STREET_LIGHT
    for k in range(count):
        ei = e_list[k]
        c = circ_list[k]
        append(
            Asset(
                f"lgt-{k + 1:05d}",
                light,
                f"Lampadaire {names[ei]} #{k + 1}",
                "",
                lat[k],
                lon[k],
                attributes={
                    "circuit": circ_names[c],
                    "mode": "on" if circ_level[c] == "100" else "dimmed",
                    "level_pct": circ_level[c],
                    "rated_w": rated[ei],
                },
            )
        )


def _place_points(rng, nodes, streets, adjacency, assets) -> None:
    """Bollards, building access points, delivery bays and water sensors near streets."""
    n = len(nodes)

    def near_street(max_r: float | None = None) -> tuple[float, float, str]:
        while True:
            s = streets[rng.randrange(len(streets))]
            x0, y0 = nodes[s.u]
            x1, y1 = nodes[s.v]
            t = rng.uniform(0.15, 0.85)
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            if max_r is None or math.hypot(x, y * 1.3) < max_r:
                off = rng.choice((-12.0, 12.0))
                dx, dy = (x1 - x0) / s.length_m, (y1 - y0) / s.length_m
                return x - dy * off, y + dx * off, s.name

    for k in range(1, BOLLARDS + 1):
        x, y, street = near_street(700.0 if k <= 40 else None)
        lat, lon = _ll(x, y)
        raised = rng.random() < 0.8
        assets.append(
            Asset(
                f"bol-{k:03d}",
                Kind.BOLLARD,
                f"Borne {street} #{k}",
                "",
                lat,
                lon,
                attributes={
                    "position": "raised" if raised else "lowered",
                    "zone": "Plateau piéton" if k <= 40 else "Accès riverains",
                },
            )
        )

    types = [t for t, w in BUILDING_TYPES for _ in range(w)]
    people = list(dict.fromkeys(PEOPLE))
    used: set[str] = set()
    for k in range(1, ACCESS_POINTS + 1):
        x, y, street = near_street()
        btype = rng.choice(types)
        building = f"{btype} {rng.choice(people)}"
        while building in used:
            building = f"{btype} {rng.choice(people)}"
            if rng.random() < 0.3:
                building = f"{btype} {rng.choice(people)} {rng.choice(['Nord', 'Sud', 'Est', 'Ouest', 'II'])}"
        used.add(building)
        entrance = rng.choice(ENTRANCES)
        lat, lon = _ll(x, y)
        assets.append(
            Asset(
                f"acc-{k:03d}",
                Kind.ACCESS_POINT,
                f"{building} — {entrance}",
                "",
                lat,
                lon,
                attributes={
                    "building": building,
                    "building_type": btype,
                    "lock": "locked" if rng.random() < 0.3 else "unlocked",
                    "mode": "normal",
                },
            )
        )

    for k in range(1, DELIVERY_BAYS + 1):
        x, y, street = near_street(1400.0 if rng.random() < 0.7 else None)
        lat, lon = _ll(x, y)
        assets.append(
            Asset(
                f"bay-{k:03d}",
                Kind.DELIVERY_BAY,
                f"Aire de livraison {street} #{k}",
                "",
                lat,
                lon,
                attributes={"occupied": "true" if rng.random() < 0.4 else "false", "street": street},
            )
        )

    for k in range(1, WATER_SENSORS + 1):
        node = rng.randrange(n)
        x, y = nodes[node]
        x, y = x + rng.uniform(-30, 30), y + rng.uniform(-30, 30)
        lat, lon = _ll(x, y)
        main = f"M-{int((y + 2600) // 400):02d}{int((x + 3600) // 1200)}"
        assets.append(
            Asset(
                f"wat-{k:03d}",
                Kind.WATER_SENSOR,
                f"Capteur réseau d'eau {main} #{k}",
                "",
                lat,
                lon,
                attributes={
                    "main": main,
                    "sensor": "pressure+flow",
                    "diameter_mm": rng.choice(["150", "200", "300", "400"]),
                    "low_pressure_pct": DEFAULT_LOW_PRESSURE_PCT,
                },
            )
        )


def _place_tram(assets) -> None:
    for line, stations in TRAM_LINES.items():
        for k, (name, x, y) in enumerate(stations, 1):
            lat, lon = _ll(x, y)
            assets.append(
                Asset(
                    f"trm-{line}-{k:02d}",
                    Kind.TRAM_STATION,
                    f"{name} ({line})",
                    "",
                    lat,
                    lon,
                    attributes={"line": line, "station": name, "order": str(k)},
                )
            )


def _place_vehicles(rng, nodes, adjacency, assets, vehicles: int = POLICE + TECHNICAL) -> None:
    """The municipal fleet: a third police patrols, the rest technical services (20 + 40 by default)."""
    police = round(vehicles * POLICE / (POLICE + TECHNICAL))
    connected = [i for i in range(len(nodes)) if adjacency[i]]
    counts: dict[str, int] = {}
    fleet: list[tuple[str, str, str]] = [
        (f"veh-pol-{k:02d}", "police", f"Police {k:02d}") for k in range(1, police + 1)
    ]
    for k in range(1, vehicles - police + 1):
        service = TECH_SERVICES[(k - 1) % len(TECH_SERVICES)]
        counts[service] = counts.get(service, 0) + 1
        fleet.append((f"veh-tec-{k:02d}", "technical", f"{service} {counts[service]:02d}"))
    for vid, kind, callsign in fleet:
        node = rng.choice(connected)
        lat, lon = _ll(*nodes[node])
        assets.append(
            Asset(
                vid,
                Kind.VEHICLE,
                callsign,
                "",
                lat,
                lon,
                heading_deg=0.0,
                attributes={"fleet": kind, "callsign": callsign, "speed_kmh": "0"},
            )
        )


def _assign_districts_and_status(rng: random.Random, assets: list[Asset]) -> None:
    """Vectorised district lookup, then a realistic ~2% sprinkling of initial faults."""
    lat = np.fromiter((a.lat for a in assets), float, len(assets))
    lon = np.fromiter((a.lon for a in assets), float, len(assets))
    idx = district_index((lon - CENTER_LON) * M_PER_DEG_LON, (lat - CENTER_LAT) * M_PER_DEG_LAT).tolist()
    names = district_names()
    rnd = rng.random
    for a, i in zip(assets, idx, strict=True):
        a.district = names[i]
        if a.kind is not Kind.VEHICLE and rnd() < 0.02:
            a.status, a.status_reason = pick_reason(rng, a.kind)


def pick_reason(rng: random.Random, kind: Kind) -> tuple[Status, str]:
    options = REASONS[kind]
    r = rng.random() * sum(o[2] for o in options)
    for status, reason, weight in options:
        r -= weight
        if r <= 0:
            return status, reason
    return options[-1][0], options[-1][1]

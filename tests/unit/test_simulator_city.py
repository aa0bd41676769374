"""City generation and the simulator's publishing loop (no Qt, no gRPC)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import numpy as np
import pytest

from vigie.backend.adapters.simulator import CitySimulator
from vigie.backend.adapters.simulator.city import generate_city, points_in_polygon
from vigie.backend.domain.assets import Kind, Status
from vigie.backend.domain.revlog import AssetStore


@pytest.fixture(scope="module")
def city():
    return generate_city(seed=1)


def test_counts_per_kind(city) -> None:
    counts = Counter(a.kind for a in city.assets)
    assert counts[Kind.CAMERA] == 269
    assert counts[Kind.TRAFFIC_SIGNAL] == 110
    assert counts[Kind.STREET_LIGHT] == 5000
    assert counts[Kind.BOLLARD] == 50
    assert counts[Kind.ACCESS_POINT] == 130
    assert counts[Kind.DELIVERY_BAY] == 200
    assert counts[Kind.WATER_SENSOR] == 150
    assert counts[Kind.TRAM_STATION] == 28
    assert counts[Kind.VEHICLE] == 60
    assert len({a.id for a in city.assets}) == len(city.assets)


def test_ids_and_attributes(city) -> None:
    by_id = {a.id: a for a in city.assets}
    assert {"cam-0001", "sig-0001", "lgt-00001", "bol-001", "acc-001", "bay-001", "wat-001"} <= by_id.keys()
    assert {"trm-T1-01", "trm-T2-01", "veh-pol-01", "veh-tec-01"} <= by_id.keys()
    assert by_id["trm-T1-01"].name.startswith("Dijon Gare")
    assert by_id["trm-T2-01"].name.startswith("Valmy")
    cams = [a for a in city.assets if a.kind is Kind.CAMERA]
    ptz = sum(a.attributes["ptz"] == "true" for a in cams)
    assert 40 < ptz < 100
    assert all({"model", "ip"} <= a.attributes.keys() for a in cams)
    for a in city.assets:
        if a.kind is Kind.STREET_LIGHT:
            assert a.attributes["circuit"].startswith("C-")
        elif a.kind is Kind.VEHICLE:
            assert a.attributes["fleet"] in ("police", "technical")


def test_status_sprinkling(city) -> None:
    bad = [a for a in city.assets if a.status is not Status.OK]
    assert 0.005 < len(bad) / len(city.assets) < 0.04
    assert all(a.status_reason for a in bad)


def test_same_seed_same_city_different_seed_differs(city) -> None:
    again = generate_city(seed=1)
    assert [(a.id, a.lat, a.lon, a.status, a.attributes) for a in again.assets] == [
        (a.id, a.lat, a.lon, a.status, a.attributes) for a in city.assets
    ]
    other = generate_city(seed=2)
    assert [(a.lat, a.lon) for a in other.assets] != [(a.lat, a.lon) for a in city.assets]


def test_assets_in_bounds_and_districts(city) -> None:
    lat0, lon0, lat1, lon1 = city.bounds
    lat = np.array([a.lat for a in city.assets])
    lon = np.array([a.lon for a in city.assets])
    assert ((lat >= lat0) & (lat <= lat1) & (lon >= lon0) & (lon <= lon1)).all()
    assert len(city.districts) == 10
    names = [d.name for d in city.districts]
    assert "Centre-Ville" in names and "Fontaine d'Ouche" in names
    inside = {d.name: points_in_polygon(lon, lat, d.polygon) for d in city.districts}
    district = np.array([a.district for a in city.assets])
    ok = np.zeros(len(lat), dtype=bool)
    for name, mask in inside.items():
        ok |= mask & (district == name)
    # Points exactly on a border may fall either way; everything else must be in its polygon.
    assert ok.mean() > 0.999
    assert Counter(district)["Centre-Ville"] > 100


def test_road_graph_and_layers(city) -> None:
    classes = Counter(s.cls for s in city.streets)
    assert classes["street"] > 500 and classes["avenue"] > 20 and classes["ring"] > 30
    layers = city.geojson_layers()
    for key in ("streets", "ring", "tram", "districts", "water", "parks"):
        assert layers[key]["type"] == "FeatureCollection" and layers[key]["features"]
    lines = {f["properties"].get("line") for f in layers["tram"]["features"]}
    assert {"T1", "T2"} <= lines
    feat = layers["streets"]["features"][0]
    assert feat["geometry"]["type"] == "LineString" and feat["properties"]["name"]


def test_fifty_thousand_lights() -> None:
    big = generate_city(seed=3, lights=50_000)
    assert sum(a.kind is Kind.STREET_LIGHT for a in big.assets) == 50_000


def test_ticks_are_deterministic_per_seed() -> None:
    def story(seed: int) -> list[tuple[str, str, str]]:
        sim = CitySimulator(seed=seed)
        store = AssetStore()
        now = 1_750_000_000.0
        sim.begin(store, now)
        rev = store.revision
        for k in range(1, 121):
            sim.tick(now + k)
        return [
            (a.id, a.status.value, a.status_reason)
            for a in store.changes_after(rev)
            if a.kind is not Kind.VEHICLE
        ]

    first = story(5)
    assert first == story(5)
    assert any(status != "ok" for _, status, _ in first)


def test_churn_publishes_requested_changes() -> None:
    sim = CitySimulator(seed=1)
    store = AssetStore()
    sim.begin(store, time.time())
    rev = store.revision
    sim.churn(10_000, time.time())
    assert store.revision == rev + 10_000


def test_start_publishes_everything_and_ticks_move_vehicles() -> None:
    async def scenario() -> None:
        sim = CitySimulator(seed=1, tick_s=0.02)
        store = AssetStore()
        await sim.start(store)
        try:
            assert len(store) == len(sim.city.assets)
            first = store.revision
            before = {a.id: (a.lat, a.lon) for a in store.assets() if a.kind is Kind.VEHICLE}
            deadline = time.monotonic() + 120  # generous: a loaded machine ticks late
            while store.revision < first + 60 * 10 and time.monotonic() < deadline:
                await store.wait_for_change(store.revision, 0.5)
            assert store.revision >= first + 60 * 10
            after = {a.id: (a.lat, a.lon) for a in store.assets() if a.kind is Kind.VEHICLE}
            moved = sum(before[k] != after[k] for k in before)
            assert moved > 10
        finally:
            await sim.stop()

    asyncio.run(scenario())


def test_open_video_only_for_cameras() -> None:
    sim = CitySimulator(seed=1, lights=100)
    cam = sim.open_video("cam-0001", 320, 180, 10)
    assert cam is not None and cam.fps == 10
    assert sim.open_video("lgt-00001", 320, 180, 10) is None
    assert sim.open_video("nope", 320, 180, 10) is None

"""The incident catalogue: types with their procedure (checklist) and the timer thresholds per
priority (Qt-free, gRPC-free). ListIncidentTypes serves it as is."""

from __future__ import annotations

from dataclasses import dataclass

from vigie.backend.domain.assets import Kind
from vigie.backend.domain.units import Capability


@dataclass(frozen=True, slots=True)
class StepSpec:
    id: str
    text: str
    required: bool


@dataclass(frozen=True, slots=True)
class IncidentType:
    code: str
    name: str
    default_priority: int
    capability: Capability
    steps: tuple[StepSpec, ...]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Seconds after creation at which a NEW incident (not dispatched) and an open one (not
    resolved) turn amber, then red."""

    priority: int
    not_dispatched_amber: float
    not_dispatched_red: float
    open_amber: float
    open_red: float


def _steps(*items: tuple[str, str, bool]) -> tuple[StepSpec, ...]:
    return tuple(StepSpec(i, t, r) for i, t, r in items)


REQ, OPT = True, False  # required, optional
TYPES: tuple[IncidentType, ...] = (
    IncidentType(
        "door_forced",
        "Door forced",
        2,
        Capability.POLICE,
        _steps(
            ("check-cameras", "Check the scene on the nearby cameras", REQ),
            ("secure", "Patrol secures the building", REQ),
            ("inform-manager", "Inform the building manager", OPT),
            ("report", "Write the intervention report", REQ),
        ),
    ),
    IncidentType(
        "road_accident",
        "Road accident",
        1,
        Capability.POLICE,
        _steps(
            ("call-112", "Call the emergency services (112)", REQ),
            ("secure-area", "Secure the area", REQ),
            ("divert", "Divert the traffic", OPT),
            ("report", "Write the accident report", REQ),
        ),
    ),
    IncidentType(
        "assistance_person",
        "Assistance to a person",
        1,
        Capability.POLICE,
        _steps(
            ("call-15", "Call the medical emergency service (15)", REQ),
            ("on-scene", "Patrol with the person", REQ),
            ("hand-over", "Hand over to the medical team", OPT),
        ),
    ),
    IncidentType(
        "public_order",
        "Public order",
        2,
        Capability.POLICE,
        _steps(
            ("check-cameras", "Follow the scene on the nearby cameras", REQ),
            ("patrol", "Patrol on scene", REQ),
            ("report", "Write the report", OPT),
        ),
    ),
    IncidentType(
        "bus_lane_obstruction",
        "Obstruction of a bus lane",
        4,
        Capability.POLICE,
        _steps(
            ("identify", "Identify the vehicle", REQ),
            ("tow", "Request a tow truck", OPT),
            ("clear", "Lane cleared", REQ),
        ),
    ),
    IncidentType(
        "lighting_failure",
        "Lighting failure",
        3,
        Capability.LIGHTING,
        _steps(
            ("confirm", "Confirm the fault on the device", REQ),
            ("make-safe", "Make the spot safe", OPT),
            ("repair", "Repair the light", REQ),
        ),
    ),
    IncidentType(
        "water_leak",
        "Water leak",
        2,
        Capability.WATER,
        _steps(
            ("isolate", "Isolate the network section", REQ),
            ("warn", "Warn the residents", OPT),
            ("repair", "Repair the leak", REQ),
            ("pressure", "Check the pressure is back", REQ),
        ),
    ),
    IncidentType(
        "signal_failure",
        "Traffic signal failure",
        2,
        Capability.SIGNALS,
        _steps(
            ("flashing", "Set the junction to flashing amber", REQ),
            ("traffic-control", "Police traffic control if needed", OPT),
            ("repair", "Repair the controller", REQ),
        ),
    ),
    IncidentType(
        "road_obstruction",
        "Road obstruction",
        3,
        Capability.ROADS,
        _steps(
            ("signpost", "Signpost the obstruction", REQ),
            ("clear", "Clear the road", REQ),
        ),
    ),
    IncidentType(
        "equipment_fault",
        "Street equipment fault",
        3,
        Capability.ROADS,
        _steps(
            ("confirm", "Confirm the fault on the device", REQ),
            ("repair", "Repair the equipment", REQ),
        ),
    ),
)
BY_CODE: dict[str, IncidentType] = {t.code: t for t in TYPES}

MIN = 60.0
HOUR = 3600.0
THRESHOLDS: dict[int, Thresholds] = {
    1: Thresholds(1, 1 * MIN, 2 * MIN, 30 * MIN, 1 * HOUR),
    2: Thresholds(2, 3 * MIN, 5 * MIN, 1 * HOUR, 2 * HOUR),
    3: Thresholds(3, 10 * MIN, 20 * MIN, 4 * HOUR, 8 * HOUR),
    4: Thresholds(4, 30 * MIN, 60 * MIN, 8 * HOUR, 24 * HOUR),
}

# The type of the incident a faulty device calls for.
TYPE_FOR_DEVICE: dict[Kind, str] = {
    Kind.STREET_LIGHT: "lighting_failure",
    Kind.WATER_SENSOR: "water_leak",
    Kind.TRAFFIC_SIGNAL: "signal_failure",
    Kind.BOLLARD: "road_obstruction",
    Kind.ACCESS_POINT: "equipment_fault",
    Kind.CAMERA: "equipment_fault",
    Kind.DELIVERY_BAY: "equipment_fault",
}
# Alarm causes (backend/alarm_sources.py) and the incident type they call for; "device_fault"
# follows the device's kind (TYPE_FOR_DEVICE).
TYPE_FOR_CAUSE: dict[str, str] = {
    "door_forced": "door_forced",
    "bollard_forced": "public_order",
    "bus_lane_blocked": "bus_lane_obstruction",
    "pressure_low": "water_leak",
    "badge_denied": "door_forced",
    "delivery_misuse": "road_obstruction",
}

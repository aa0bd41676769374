"""The simulated Dijon device network (city generator, procedural telemetry, synthetic video)."""

from vigie.backend.adapters.simulator.simulator import CitySimulator

__all__ = ["CitySimulator"]

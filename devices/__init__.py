"""Simulated devices that reach the backend over MQTT, as real devices do (docs/devices.md).

A device, not the backend: it may use the backend's city model and the MQTT wire contract
(vigie.backend.adapters.simulator, vigie.backend.adapters.mqtt), never its services, stores,
security or the gRPC API (import-linter contract in pyproject.toml)."""

"""Devices over MQTT (docs/devices.md): the wire contract, the device-update path, the adapter."""

from vigie.backend.adapters.mqtt.network import MqttNetwork
from vigie.backend.adapters.mqtt.registry import RegistryError, load_registry

__all__ = ["MqttNetwork", "RegistryError", "load_registry"]

"""Real cameras from a TOML catalogue: RTSP, HTTP MJPEG and video files, read with OpenCV/FFmpeg."""

from vigie.backend.adapters.cameras.catalogue import CameraSpec, CatalogueError, load_catalogue
from vigie.backend.adapters.cameras.network import CameraNetwork

__all__ = ["CameraNetwork", "CameraSpec", "CatalogueError", "load_catalogue"]

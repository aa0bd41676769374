"""Real cameras from a TOML catalogue: RTSP, HTTP MJPEG and video files, read with OpenCV/FFmpeg."""

from backend.adapters.cameras.catalogue import CameraSpec, CatalogueError, load_catalogue
from backend.adapters.cameras.network import CameraNetwork

__all__ = ["CameraNetwork", "CameraSpec", "CatalogueError", "load_catalogue"]

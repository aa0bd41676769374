"""Recording: segments, the recorder, the city history, exports (docs/recording.md)."""

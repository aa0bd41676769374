"""Playback widgets: the timeline with its scrubber and the transport controls."""

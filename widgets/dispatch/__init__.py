"""Dispatch views: the incident list and detail, the unit board and the recommendation."""

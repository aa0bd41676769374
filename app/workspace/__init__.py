"""Workspaces: the console's windows, one per screen, with docking panels, saved and restored by name.

model.py (the workspace as plain data), screens.py (roles <-> screens, folding), layouts.py (proposed and
provided workspaces), files.py (the JSON format), panels.py (the panel registry), window.py (a screen's
window), docking.py (dock trees <-> QtAds), manager.py (applies a workspace; its parts: state.py,
placement.py (windows on screens), panel_docks.py (panels), presentation.py (presentation mode),
saving.py), menus.py, screenshot.py. See docs/workspaces.md and docs/architecture.md.
"""

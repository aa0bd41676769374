"""City modes views: the banner every window and wall shows while a mode is active, the modes
dialog and the modes journal. Plain values in, signals out (docs/architecture.md)."""

"""The backend as the soak harness runs it: the in-process probe (bench/soak_probe.py), then
vigie-backend's own main with the given arguments."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.soak_probe import install


def main() -> int:
    install()
    from vigie.backend.cli import main as backend_main

    return backend_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

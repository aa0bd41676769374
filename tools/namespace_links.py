"""Lay the installed package tree out as symlinks in .venv/ns (`make gen`), for tools that read
packages from folders rather than through the import system: import-linter (grimp) and mypy.

setup.py's PACKAGE_ROOTS maps folders to packages (app/ -> vigie.app, ...). Installed or editable,
Python follows that map, but grimp and mypy only walk a package's own folder and so never find
vigie.app under protos/vigie. `PYTHONPATH=.venv/ns lint-imports` and `mypy_path = ".venv/ns"` see
the packages as they are installed."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def package_roots() -> dict[str, str]:
    """PACKAGE_ROOTS as written in setup.py (read, not run: running setup.py would build)."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PACKAGE_ROOTS" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise SystemExit("namespace_links: no PACKAGE_ROOTS in setup.py")


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or [str(ROOT / ".venv" / "ns")])[0])
    shutil.rmtree(out, ignore_errors=True)
    roots = package_roots()
    for name, folder in sorted(roots.items()):
        target = out.joinpath(*name.split("."))
        source = ROOT / folder
        if any(other.startswith(name + ".") for other in roots):
            # A package with mapped sub-packages (vigie): a real folder holding links to its files.
            target.mkdir(parents=True, exist_ok=True)
            for child in source.iterdir():
                if child.name != "__pycache__":
                    (target / child.name).symlink_to(child)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source, target_is_directory=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

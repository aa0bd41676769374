"""Build steps pyproject.toml cannot declare: the package map, and the generated vigie.v1 code.

`pip install .`, `pip wheel .`, `python -m build` and `pipx install` all run `build_py`, which here
also generates the vigie.v1 protobuf/gRPC modules (and their stubs) with grpc_tools and
mypy-protobuf (pinned in [build-system] requires) and copies resources/ into the package, so an
installed console finds its map page, styles and vendored Leaflet. Editable installs (`make gen`)
generate into the source tree with tools/gen_protos.py instead.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent

# Installed package -> source folder. The folders stay where they are; package_dir maps them.
PACKAGE_ROOTS = {
    "vigie.app": "app",
    "vigie.widgets": "widgets",
    "vigie.backend": "backend",
    "vigie.devices": "devices",
    "vigie": "protos/vigie",
}
RESOURCES_PACKAGE = "vigie"  # resources/ is installed as <this package>/resources


def packages_and_dirs() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in PACKAGE_ROOTS.items():
        package_dir[name] = folder
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(str(ROOT / folder))]
    return packages, package_dir


class BuildPyWithProtos(build_py):
    """build_py that first writes the vigie.v1 modules into the build tree, then resources/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # the source tree is imported as is: `make gen` generates there
            return
        out = Path(self.build_lib)
        self.generate_protos(out)
        target = out.joinpath(*RESOURCES_PACKAGE.split("."), "resources")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "resources", target)

    def generate_protos(self, out: Path) -> None:
        # protoc writes vigie/v1/*_pb2*.py under --out: beside the `vigie` package build_py copied.
        code = subprocess.call([sys.executable, str(ROOT / "tools" / "gen_protos.py"), "--out", str(out)])
        if code != 0:
            raise SystemExit(f"setup.py: generating the vigie.v1 code failed (exit {code})")


packages, package_dir = packages_and_dirs()
setup(packages=packages, package_dir=package_dir, cmdclass={"build_py": BuildPyWithProtos})

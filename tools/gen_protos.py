"""Generate the vigie.v1 Python modules and their type stubs from protos/vigie/v1/*.proto.

Run by `make gen` (and so by `make demo` / `make test`), which writes them next to the .proto files
(not committed); setup.py's build step runs it with `--out BUILD_DIR` so wheels carry them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"


def plugin(name: str) -> str:
    """mypy-protobuf's plugin: beside this python (a venv), else on PATH (pip's isolated build env)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"gen_protos: {name} not found (install mypy-protobuf)")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--out", type=Path, default=PROTO_ROOT, help="root for vigie/v1/*_pb2*.py (default: protos/)"
    )
    out = str(p.parse_args(argv).out)
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "vigie" / "v1").glob("*.proto"))
    if not protos:
        print(f"gen_protos: no .proto files under {PROTO_ROOT / 'vigie' / 'v1'}", file=sys.stderr)
        return 1
    include = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto shipped with grpcio-tools
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={plugin('protoc-gen-mypy_grpc')}",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--mypy_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    code = protoc.main(args)
    if code != 0:
        print("protoc failed", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

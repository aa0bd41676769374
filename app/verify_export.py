"""`vigie verify-export DIR`: check an evidence export against its manifest, without a backend.

The backend writes one file per camera and manifest.json with each file's size and SHA-256
(backend/recording/export.py, docs/recording.md). Every file listed must be there with that
size and hash; a changed byte, a missing or truncated file fails. Files in the folder that the
manifest does not list are reported too (they are not part of the evidence).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

MANIFEST = "manifest.json"
FORMAT = "vigie-export/1"


@dataclass
class Verdict:
    ok: bool
    checked: list[str] = field(default_factory=list)  # files whose hash matched
    problems: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # files not in the manifest


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(folder: str) -> Verdict:
    """Check every file of the manifest in `folder`."""
    v = Verdict(ok=False)
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        v.problems.append(f"no {MANIFEST} in {folder}")
        return v
    except (OSError, ValueError) as exc:
        v.problems.append(f"{MANIFEST} cannot be read: {exc}")
        return v
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        v.problems.append(f"{MANIFEST} is not a Vigie export manifest (format {FORMAT})")
        return v
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        v.problems.append(f"{MANIFEST} lists no file")
        return v
    listed = set()
    for entry in files:
        name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
        if not name or os.path.basename(name) != name or name == MANIFEST:
            v.problems.append(f"bad file entry in the manifest: {entry!r}"[:200])
            continue
        listed.add(name)
        p = os.path.join(folder, name)
        if not os.path.isfile(p):
            v.problems.append(f"{name}: missing")
            continue
        size = os.path.getsize(p)
        if size != entry.get("size"):
            v.problems.append(f"{name}: {size} bytes, the manifest says {entry.get('size')}")
            continue
        if _sha256(p) != str(entry.get("sha256", "")).lower():
            v.problems.append(f"{name}: SHA-256 differs from the manifest (the file was changed)")
            continue
        v.checked.append(name)
    v.extra = sorted(n for n in os.listdir(folder) if n not in listed and n != MANIFEST)
    v.ok = not v.problems
    return v


def main(folder: str) -> int:
    """Print the verdict; 0 when every file verifies, 1 otherwise."""
    v = verify(folder)
    for name in v.checked:
        print(f"OK      {name}")
    for p in v.problems:
        print(f"FAILED  {p}")
    for name in v.extra:
        print(f"NOTE    {name}: not in the manifest (not part of the export)")
    print("export verified" if v.ok else "export NOT verified")
    return 0 if v.ok else 1

"""The camera catalogue: a TOML file listing real cameras, parsed and validated up front.

Every problem is reported at once, each with the file, the camera's index and id, the key and
what is wrong, so an operator fixes the file in one pass instead of one error per restart.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

REQUIRED = ("id", "name", "url", "lat", "lon")
OPTIONAL = ("heading", "ptz", "direct", "district")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCHEMES = {"rtsp": "rtsp", "rtsps": "rtsp", "http": "mjpeg", "https": "mjpeg"}


class CatalogueError(ValueError):
    """The catalogue file is unreadable or invalid; the message lists every problem, one a line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CameraSpec:
    id: str
    name: str
    url: str  # as written, or the absolute path for a file
    source: str  # "rtsp", "mjpeg" or "file"
    lat: float
    lon: float
    heading_deg: float = 0.0
    ptz: bool = False
    direct: bool = False
    district: str | None = None


# Query parameters whose value is a secret: names containing one of these (case-insensitive).
SECRET_PARAMS = ("pass", "pwd", "token", "key", "secret", "auth", "sig", "session", "credential", "cookie")
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:!?)]")


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_PARAMS)


def _redact_query(query: str) -> str:
    """`a=1&password=x;token=y` -> `a=1&password=***;token=***` (separators and order kept)."""
    out = []
    for part in re.split(r"([&;])", query):
        name, eq, _ = part.partition("=")
        out.append(f"{name}=***" if eq and _secret(unquote_plus(name)) else part)
    return "".join(out)


def redact(url: str) -> str:
    """The URL without its secrets, for logs and status reasons: the userinfo's password and the
    values of credential-like query and fragment parameters become ***. Never raises (a bad port
    or bracket included): a URL it cannot read is shown as its scheme only."""
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme = url.partition("://")[0] if "://" in url else ""
        return f"{scheme}://***" if scheme.isalnum() else "***"
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        userinfo = f"{user}:***" if colon else userinfo
    netloc = f"{userinfo}{at}{hostport}"
    return parts._replace(
        netloc=netloc, query=_redact_query(parts.query), fragment=_redact_query(parts.fragment)
    ).geturl()


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (status reasons may quote a library's message)."""
    return URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def load_catalogue(path: str | Path) -> list[CameraSpec]:
    """Read and validate a catalogue file; raises CatalogueError listing every problem."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError([f"{p}: not valid TOML: {exc}"]) from None
    return parse_catalogue(data, str(p), base_dir=p.resolve().parent)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_catalogue(
    data: dict[str, Any], origin: str = "<catalogue>", base_dir: Path | None = None
) -> list[CameraSpec]:
    """Validate parsed TOML (`[[camera]]` tables); relative file paths resolve against base_dir."""
    problems: list[str] = []
    extra = sorted(k for k in data if k != "camera")
    if extra:
        problems.append(
            f"{origin}: unknown top-level key(s) {', '.join(map(repr, extra))}; expected [[camera]] tables"
        )
    cams = data.get("camera")
    if cams is None:
        raise CatalogueError([*problems, f"{origin}: no [[camera]] table"])
    if not isinstance(cams, list) or not all(isinstance(c, dict) for c in cams):
        raise CatalogueError([*problems, f"{origin}: 'camera' must be an array of tables ([[camera]])"])
    specs: list[CameraSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(cams, start=1):
        cid = raw.get("id")
        where = f"{origin}: camera #{index}" + (f" (id {cid!r})" if isinstance(cid, str) and cid else "")
        bad: list[str] = []

        def fail(key: str, what: str, _bad: list[str] = bad, _where: str = where) -> None:
            _bad.append(f"{_where}: key {key!r}: {what}")

        for key in REQUIRED:
            if key not in raw:
                fail(key, "missing (required)")
        for key in sorted(set(raw) - set(REQUIRED) - set(OPTIONAL)):
            fail(key, f"unknown key (allowed: {', '.join(REQUIRED + OPTIONAL)})")
        for key in ("id", "name", "url", "district"):
            if key in raw and not (isinstance(raw[key], str) and raw[key].strip()):
                fail(key, f"must be a non-empty string, got {raw[key]!r}")
        if isinstance(cid, str) and cid.strip():
            if not ID_RE.match(cid):
                fail(
                    "id", "use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)"
                )
            elif cid in seen:
                fail("id", f"duplicate: camera #{seen[cid]} already uses {cid!r}")
            else:
                seen[cid] = index
        for key, lo, hi in (("lat", -90.0, 90.0), ("lon", -180.0, 180.0), ("heading", 0.0, 360.0)):
            if key not in raw:
                continue
            v = raw[key]
            if not _number(v):
                fail(key, f"must be a number, got {v!r}")
            elif not lo <= v <= hi:
                fail(key, f"must be between {lo:g} and {hi:g}, got {v}")
        for key in ("ptz", "direct"):
            if key in raw and not isinstance(raw[key], bool):
                fail(key, f"must be true or false, got {raw[key]!r}")
        url, source = raw.get("url"), ""
        if isinstance(url, str) and url.strip():
            url, source, why = _classify(url.strip(), base_dir)
            if why:
                fail("url", why)
        if raw.get("direct") is True and source == "file":
            fail("direct", "a file camera cannot be direct: the console cannot read the backend's files")
        if bad:
            problems.extend(bad)
            continue
        specs.append(
            CameraSpec(
                id=cid,
                name=raw["name"].strip(),
                url=url,
                source=source,
                lat=float(raw["lat"]),
                lon=float(raw["lon"]),
                heading_deg=float(raw.get("heading", 0.0)),
                ptz=raw.get("ptz", False),
                direct=raw.get("direct", False),
                district=raw["district"].strip() if "district" in raw else None,
            )
        )
    if problems:
        raise CatalogueError(problems)
    return specs


def _classify(url: str, base_dir: Path | None) -> tuple[str, str, str]:
    """(url or absolute path, source kind, problem or "")."""
    scheme = urlsplit(url).scheme.lower()
    if len(scheme) > 1:  # "C:" style drive letters are paths, not schemes
        if scheme == "file":
            url, scheme = urlsplit(url).path, ""
        elif scheme not in SCHEMES:
            return (
                url,
                "",
                f"unsupported scheme {scheme!r} in {redact(url)!r}: use rtsp://, http:// (MJPEG) or a file path",
            )
        else:
            parts = urlsplit(url)
            if not parts.hostname:
                return url, "", f"no host in {redact(url)!r}"
            try:
                parts.port  # noqa: B018 - raises ValueError for a port past 65535 or not a number
            except ValueError:
                return url, "", f"invalid port in {redact(url)!r}: use a number from 1 to 65535"
            return url, SCHEMES[scheme], ""
    path = Path(url).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        return url, "", f"no such video file {str(path)!r}"
    return str(path), "file", ""

"""The camera catalogue (TOML): a valid file parses; every kind of mistake gets a precise error."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.backend.adapters.cameras.catalogue import CatalogueError, load_catalogue, redact
from vigie.backend.cli import main

GOOD = """
[[camera]]
id = "gare-parvis"
name = "Gare — parvis"
url = "rtsp://user:secret@10.0.0.12:554/stream1"
lat = 47.3235
lon = 5.0272
heading = 270
ptz = true

[[camera]]
id = "halles"
name = "Halles centrales"
url = "http://10.0.0.20/video.mjpg"
lat = 47.3238
lon = 5.0400
direct = true
district = "Centre"

[[camera]]
id = "loop"
name = "Training loop"
url = "clip.avi"
lat = 47.32
lon = 5.04
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "clip.avi").write_bytes(b"not really a video, the catalogue only checks it exists")
    p = tmp_path / "cams.toml"
    p.write_text(text, encoding="utf-8")
    return p


def errors(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogueError) as err:
        load_catalogue(write(tmp_path, text))
    return str(err.value)


def test_valid_file_parses(tmp_path: Path) -> None:
    specs = load_catalogue(write(tmp_path, GOOD))
    assert [s.id for s in specs] == ["gare-parvis", "halles", "loop"]
    gare, halles, loop = specs
    assert gare.source == "rtsp" and gare.ptz and not gare.direct and gare.heading_deg == 270.0
    assert halles.source == "mjpeg" and halles.direct and halles.district == "Centre"
    assert loop.source == "file" and loop.url == str(tmp_path / "clip.avi")  # relative to the file
    assert loop.heading_deg == 0.0 and not loop.ptz and loop.district is None


def one(**overrides: object) -> str:
    fields: dict[str, object] = {"id": "c1", "name": "Cam", "url": "rtsp://h/x", "lat": 47.3, "lon": 5.0}
    fields.update(overrides)
    lines = ["[[camera]]"]
    for k, v in fields.items():
        if v is None:
            continue
        lines.append(
            f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {str(v).lower() if isinstance(v, bool) else v}"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (one(lat=None), "camera #1 (id 'c1'): key 'lat': missing (required)"),
        (one(id=None), "camera #1: key 'id': missing (required)"),
        (one(lat="47.3"), "key 'lat': must be a number, got '47.3'"),
        (one(ptz="yes"), "key 'ptz': must be true or false, got 'yes'"),
        (one(direct=1), "key 'direct': must be true or false, got 1"),
        (one(name=""), "key 'name': must be a non-empty string"),
        (one() + one(), "camera #2 (id 'c1'): key 'id': duplicate: camera #1 already uses 'c1'"),
        (one(url="ftp://h/x"), "key 'url': unsupported scheme 'ftp'"),
        (one(url="missing.mp4"), "key 'url': no such video file"),
        (one(lat=91), "key 'lat': must be between -90 and 90, got 91"),
        (one(lon=-181.5), "key 'lon': must be between -180 and 180, got -181.5"),
        (one(heading=400), "key 'heading': must be between 0 and 360"),
        (one(colour="red"), "key 'colour': unknown key"),
        (one(id="a b"), "key 'id': use letters, digits"),
        ("title = 'x'\n", "no [[camera]] table"),
        ("[[camera]\nid=", "not valid TOML"),
    ],
)
def test_bad_input_is_explained(tmp_path: Path, text: str, expected: str) -> None:
    message = errors(tmp_path, text)
    assert expected in message
    assert str(tmp_path / "cams.toml") in message  # says which file


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    message = errors(tmp_path, one(lat=100, lon="x") + one(id="c2", url="gopher://h"))
    assert len(message.splitlines()) == 3
    assert "camera #1 (id 'c1'): key 'lat'" in message and "camera #2 (id 'c2'): key 'url'" in message


def test_password_never_shown(tmp_path: Path) -> None:
    assert redact("rtsp://admin:hunter2@10.0.0.1:554/s") == "rtsp://admin:***@10.0.0.1:554/s"
    assert "hunter2" not in errors(tmp_path, one(url="sftp://admin:hunter2@h/x"))


def test_cli_exits_2_on_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, one(lat=123))
    assert main(["--cameras", str(path), "--lights", "0"]) == 2
    err = capsys.readouterr().err
    assert "invalid camera catalogue" in err and "key 'lat'" in err
    # An id that a simulated device already uses is refused too.
    assert main(["--cameras", str(write(tmp_path, one(id="cam-0001"))), "--lights", "0"]) == 2
    assert "already used by a simulated device" in capsys.readouterr().err

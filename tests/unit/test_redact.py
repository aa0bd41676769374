"""Camera URLs never show their secrets (userinfo password, credential-like query parameters),
a URL that cannot be read never crashes the redaction, and a port past 65535 is a catalogue
error (exit status 2 with the reason), not a crash at startup."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.backend.adapters.cameras.catalogue import CatalogueError, load_catalogue, redact, redact_text
from vigie.backend.cli import main

CASES = [
    ("rtsp://admin:hunter2@10.0.0.1:554/s", "rtsp://admin:***@10.0.0.1:554/s"),
    ("rtsp://10.0.0.1/s?user=x&password=y", "rtsp://10.0.0.1/s?user=x&password=***"),
    ("http://h/v.mjpg?Token=abc;api_key=K&channel=1", "http://h/v.mjpg?Token=***;api_key=***&channel=1"),
    (
        "http://h/v?pwd=1&passwd=2&secret=3&auth=4&sig=5",
        "http://h/v?pwd=***&passwd=***&secret=***&auth=***&sig=***",
    ),
    ("http://h/v#access_token=T", "http://h/v#access_token=***"),
    ("rtsp://h/v?pass%77ord=z", "rtsp://h/v?pass%77ord=***"),  # percent-encoded "password"
    ("rtsp://h/stream?channel=1&subtype=0", "rtsp://h/stream?channel=1&subtype=0"),  # nothing secret
    ("rtsp://u:p@h:99999/x?key=k", "rtsp://u:***@h:99999/x?key=***"),  # a bad port: no crash
    ("http://[::1/x?token=t", "http://***"),  # unreadable: the scheme only
]


@pytest.mark.parametrize(("url", "shown"), CASES)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_redact_text_redacts_every_url_in_a_message() -> None:
    text = "cannot open rtsp://u:pw@h/x?token=1, then (http://k/m?key=2)."
    assert redact_text(text) == "cannot open rtsp://u:***@h/x?token=***, then (http://k/m?key=***)."


def _catalogue(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "cams.toml"
    path.write_text(f'[[camera]]\nid = "c1"\nname = "C"\nurl = "{url}"\nlat = 47.3\nlon = 5.0\n')
    return path


@pytest.mark.parametrize(
    "url", ["rtsp://127.0.0.1:99999/x", "rtsp://admin:hunter2@10.0.0.1:99999/x", "http://h:port/x"]
)
def test_a_bad_port_is_a_catalogue_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(CatalogueError) as err:
        load_catalogue(_catalogue(tmp_path, url))
    assert "key 'url': invalid port in" in str(err.value) and "hunter2" not in str(err.value)


def test_the_backend_exits_2_on_a_bad_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _catalogue(tmp_path, "rtsp://admin:hunter2@10.0.0.1:99999/x")
    assert main(["--cameras", str(path), "--no-simulator"]) == 2
    err = capsys.readouterr().err
    assert "invalid camera catalogue" in err and "use a number from 1 to 65535" in err
    assert "hunter2" not in err

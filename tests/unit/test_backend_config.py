"""vigie-backend's settings: the command line wins over VIGIE_BACKEND_<FLAG> variables, which win
over the --config TOML file; every flag can be set each way; unknown keys and variables and bad
values are errors naming them (exit 2), never ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigie.backend.cli import parse_args


@pytest.fixture
def toml(tmp_path: Path):
    def write(text: str) -> str:
        path = tmp_path / "vigie-backend.toml"
        path.write_text(text)
        return str(path)

    return write


def test_flags_win_over_env_which_win_over_the_file(toml, monkeypatch, tmp_path):
    monkeypatch.delenv("VIGIE_BACKEND_LIGHTS", raising=False)
    cfg = toml(
        f'lights = 11\nvehicles = 12\nseed = 13\nquiet-city = true\ndata-dir = "{tmp_path}"\n'
        'wall = ["lobby=desk-1,desk-2", "hall=desk-3"]\nlog_format = "json"\n'
    )
    monkeypatch.setenv("VIGIE_BACKEND_VEHICLES", "22")
    monkeypatch.setenv("VIGIE_BACKEND_SEED", "23")
    args = parse_args(["--config", cfg, "--seed", "33"])
    assert (args.lights, args.vehicles, args.seed) == (11, 22, 33)
    assert args.quiet_city is True and args.log_format == "json" and args.data_dir == str(tmp_path)
    assert args.walls == {"lobby": ("desk-1", "desk-2"), "hall": ("desk-3",)}


def test_env_alone_switches_lists_and_the_config_variable(toml, monkeypatch):
    cfg = toml("lights = 3\n")
    monkeypatch.setenv("VIGIE_BACKEND_CONFIG", cfg)
    monkeypatch.setenv("VIGIE_BACKEND_NO_REFLECTION", "yes")
    monkeypatch.setenv("VIGIE_BACKEND_WALL", "a=d1;b=d2,d3")
    args = parse_args([])
    assert args.lights == 3 and args.no_reflection is True
    assert args.walls == {"a": ("d1",), "b": ("d2", "d3")}


@pytest.mark.parametrize(
    ("file", "env", "message"),
    [
        ("lihgts = 3\n", {}, "unknown setting 'lihgts'"),
        ("lights = 'many'\n", {}, "lights"),
        ("", {"VIGIE_BACKEND_LIHGTS": "3"}, "unknown environment variable VIGIE_BACKEND_LIHGTS"),
        ("", {"VIGIE_BACKEND_QUIET_CITY": "perhaps"}, "expected true or false"),
        ("", {"VIGIE_BACKEND_LOG_FORMAT": "xml"}, "not one of"),
        ("lights = [", {}, "--config"),
    ],
)
def test_bad_settings_exit_2_naming_them(toml, monkeypatch, capsys, file, env, message):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as done:
        parse_args(["--config", toml(file)])
    assert done.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.0.0.0:9464", "non-loopback"),
        ("localhost", "expected HOST:PORT"),
        ("127.0.0.1:99999", "expected HOST:PORT"),
    ],
)
def test_metrics_address_is_checked(capsys, value, message):
    with pytest.raises(SystemExit) as done:
        parse_args(["--metrics", value])
    assert done.value.code == 2 and message in capsys.readouterr().err


def test_metrics_on_all_interfaces_needs_insecure():
    assert parse_args(["--metrics", "0.0.0.0:9464", "--insecure"]).metrics == "0.0.0.0:9464"

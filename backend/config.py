"""Where vigie-backend's settings come from: the command line, then the environment, then a TOML
file (`--config FILE`), each flag once (docs/deployment.md, "Configuration").

Every long flag `--some-flag` is the TOML key `some-flag` (or `some_flag`) and the environment
variable `VIGIE_BACKEND_SOME_FLAG`. Switches take true/false (TOML) or 1/0, true/false, yes/no
(environment); repeatable flags take a TOML array, or values separated by `;` in the environment.
A key or value the parser does not know is an error naming it (exit 2), never ignored."""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping
from typing import Any

ENV_PREFIX = "VIGIE_BACKEND_"
NOT_SETTABLE = {"help", "version", "config", "add_user", "role"}  # one-off actions, not settings
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    pass


def env_name(action: argparse.Action) -> str:
    return ENV_PREFIX + action.dest.upper()


def settable(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """dest -> action, for every flag a file or the environment may set."""
    return {
        a.dest: a
        for a in parser._actions  # argparse keeps no public list of its actions
        if a.option_strings and a.dest not in NOT_SETTABLE
    }


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """A TOML value or an environment string -> what the flag would have produced."""
    is_switch = isinstance(action, argparse._StoreTrueAction)
    is_list = isinstance(action, argparse._AppendAction)
    if is_switch:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if is_list:
        items = value.split(";") if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_one(action, v, where) for v in items if not (isinstance(v, str) and not v.strip())]
    return _one(action, value, where)


def _one(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, (dict, list)):
        raise ConfigError(f"{where}: expected a single value, got {value!r}")
    text = value if isinstance(value, str) else str(value)
    try:
        out = action.type(text) if callable(action.type) else text
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if action.choices is not None and out not in action.choices:
        raise ConfigError(f"{where}: {out!r} is not one of {', '.join(map(str, action.choices))}")
    return out


def read_file(path: str, actions: Mapping[str, argparse.Action]) -> dict[str, Any]:
    """The settings of a TOML file: dest -> value. ConfigError names an unknown key."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config {path}: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in data.items():
        dest = key.replace("-", "_")
        if dest not in actions:
            raise ConfigError(
                f"--config {path}: unknown setting {key!r} (keys are the long flags without --)"
            )
        out[dest] = _convert(actions[dest], value, f"--config {path}: {key}")
    return out


def read_env(actions: Mapping[str, argparse.Action], environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings given as VIGIE_BACKEND_* variables: dest -> value. ConfigError names an
    unknown variable (a typo would otherwise be silently ignored)."""
    known = {env_name(a): a for a in actions.values()}
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        if name not in known:
            raise ConfigError(f"unknown environment variable {name} (see docs/deployment.md)")
        out[known[name].dest] = _convert(known[name], value, name)
    return out


def apply(parser: argparse.ArgumentParser, config_file: str | None, environ: Mapping[str, str]) -> None:
    """Makes the file's values, then the environment's, the parser's defaults: the command line,
    parsed afterwards, wins over both."""
    actions = settable(parser)
    values = read_file(config_file, actions) if config_file else {}
    values.update(read_env(actions, environ))
    parser.set_defaults(**values)


def config_path(argv: list[str], environ: Mapping[str, str] = os.environ) -> str | None:
    """--config FILE (or --config=FILE) from the command line, else VIGIE_BACKEND_CONFIG."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    return known.config or environ.get(ENV_PREFIX + "CONFIG") or None

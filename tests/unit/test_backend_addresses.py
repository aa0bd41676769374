"""`--backend` lists: parsing, and the gRPC target they become (one address as given, several as
one address list in the order given, host names resolved)."""

from __future__ import annotations

import asyncio

import pytest

from vigie.app.client.addresses import MAX_BACKENDS, channel_target, parse_backends


async def _fake_resolve(host: str, port: int) -> list[tuple[int, str]]:
    # A resolver at the boundary we cannot run here (a DNS with several A records).
    table = {"replicas.city": [(4, "10.0.0.2"), (4, "10.0.0.3"), (6, "fd00::4")]}
    return table[host]


def target(text: str) -> str:
    return asyncio.run(channel_target(parse_backends(text), _fake_resolve))


def test_one_address_stays_as_given_for_grpcs_dns_resolver():
    assert target("backend.city:50051") == "backend.city:50051"


def test_a_list_becomes_one_ipv4_target_in_the_order_given():
    assert target("127.0.0.1:5001, 127.0.0.1:5002,127.0.0.1:5003") == (
        "ipv4:127.0.0.1:5001,127.0.0.1:5002,127.0.0.1:5003"
    )


def test_names_in_a_list_are_resolved_and_ipv4_is_preferred():
    assert target("replicas.city:7000,127.0.0.1:7001") == "ipv4:10.0.0.2:7000,10.0.0.3:7000,127.0.0.1:7001"


def test_ipv6_literals_keep_their_brackets():
    assert target("[::1]:5001,[fd00::9]:5002") == "ipv6:[::1]:5001,[fd00::9]:5002"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "no backend address"),
        ("127.0.0.1", "not HOST:PORT"),
        ("127.0.0.1:0", "not HOST:PORT"),
        ("127.0.0.1:99999", "not HOST:PORT"),
        ("a:1,:2", "not HOST:PORT"),
        (",".join(f"10.0.0.{i}:1" for i in range(MAX_BACKENDS + 1)), "at most"),
    ],
)
def test_bad_lists_are_refused_saying_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_backends(text)


def test_the_console_refuses_a_bad_backend_list_at_the_command_line(capsys):
    from vigie.app.cli import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--backend", "127.0.0.1:5001,nonsense"])
    assert "not HOST:PORT" in capsys.readouterr().err

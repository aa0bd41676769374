"""Idempotency keys are evicted per user: one user's flood of keys never makes the book forget
another user's key (a retry of theirs must still be a replay, not a second command)."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.test_commands_domain import OPERATOR, SUPERVISOR, Recorder, book, req
from vigie.backend.domain.commands import UnknownCommand


def test_a_flood_past_the_per_user_bound_evicts_only_the_flooders_keys():
    recorder = Recorder()
    b = book(dispatch=recorder, max_commands_per_user=5)

    async def scenario():
        mine, _ = await b.execute(req(key="mine"), OPERATOR)
        flood = [(await b.execute(req(key=f"f{i}"), SUPERVISOR))[0] for i in range(100)]
        again, replayed = await b.execute(req(key="mine"), OPERATOR)
        assert again is mine and replayed
        assert len(b) == 1 + 5
        with pytest.raises(UnknownCommand):
            b.get(flood[94].id)
        assert b.get(flood[95].id) is flood[95]

    asyncio.run(scenario())
    assert len(recorder.calls) == 1 + 100, "the retry sent nothing again"


def test_past_the_book_bound_the_user_holding_the_most_goes_first():
    b = book(max_commands=10, max_targets=1000)

    async def scenario():
        mine = [(await b.execute(req(key=f"m{i}"), OPERATOR))[0] for i in range(2)]
        for i in range(50):
            await b.execute(req(key=f"f{i}"), SUPERVISOR)
        assert len(b) == 10
        for i, cmd in enumerate(mine):
            assert (await b.execute(req(key=f"m{i}"), OPERATOR)) == (cmd, True)

    asyncio.run(scenario())


def test_past_the_target_bound_the_user_holding_the_most_targets_goes_first():
    b = book(max_targets=6)

    async def scenario():
        mine, _ = await b.execute(req(key="mine", ids=("lgt-1", "lgt-2")), OPERATOR)
        for i in range(10):
            await b.execute(req(key=f"f{i}", ids=("lgt-1", "lgt-2")), SUPERVISOR)
        assert (await b.execute(req(key="mine", ids=("lgt-1", "lgt-2")), OPERATOR)) == (mine, True)
        assert len(b) == 3

    asyncio.run(scenario())

"""`bench/soak.py --only`: the scripted operator keeps the steps named, in their usual order, so
one action's cost is measured apart; a name it does not know stops the soak before it starts."""

from __future__ import annotations

import pytest

from bench.soak_operator import Operator


def test_only_keeps_the_named_steps_once_each_in_order(qtbot) -> None:
    op = Operator(only=["close_command", "open_command"])
    assert [name for name, _ in op.steps] == ["open_command", "close_command"]
    whole = Operator()
    assert len(whole.steps) == 9 and whole.switch_every == 3


def test_switch_workspace_alone_switches_at_every_turn(qtbot) -> None:
    op = Operator(only=["switch_workspace"])
    assert [name for name, _ in op.steps] == ["switch_workspace"] and op.switch_every == 1


def test_an_unknown_step_is_refused(qtbot) -> None:
    with pytest.raises(ValueError, match="no such operator step"):
        Operator(only=["ack_alarms"])

"""The HSM steps' transition table names real functions and leaves one state per step."""

from __future__ import annotations

import dataclasses

from sbkcard.terminal.national.interface import NationalInterface
from sbkcard.terminal.national.steps import TRANSITIONS


def test_every_step_of_the_table_is_a_function_of_the_interface() -> None:
    for step, (following, _) in TRANSITIONS.items():
        assert callable(getattr(NationalInterface, step))
        assert callable(getattr(NationalInterface, following))
        assert step.rsplit("_Step", 1)[0] == following.rsplit("_Step", 1)[0]
        assert int(following[-1]) == int(step[-1]) + 1


def test_every_pending_state_is_frozen() -> None:
    for _, kind in TRANSITIONS.values():
        state = kind(*(None for _ in dataclasses.fields(kind)))
        field = dataclasses.fields(kind)[0].name
        try:
            setattr(state, field, None)
        except dataclasses.FrozenInstanceError:
            continue
        raise AssertionError(f"{kind.__name__} is not frozen")

"""Plugin hooks. A plugin implements any of them with :data:`rewardkit.hookimpl`.

Each hook receives a ``register`` callback; rewardkit owns the registries.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

hookspec = pluggy.HookspecMarker("rewardkit")
hookimpl = pluggy.HookimplMarker("rewardkit")


@hookspec
def register_ladders(register: Callable) -> None:
    """Register ladders: ``register(ladder)`` with a :class:`rewardkit.Ladder`; its ``name``
    is the registry key."""


@hookspec
def register_judges(register: Callable) -> None:
    """Register judge factories: ``register(name, factory)``, where ``factory(**options)``
    returns a :class:`rewardkit.judges.Judge`."""


@hookspec
def register_rewards(register: Callable) -> None:
    """Register reward rule factories: ``register(name, factory)``, where
    ``factory(**options)`` returns a :class:`rewardkit.rules.RewardRule`."""

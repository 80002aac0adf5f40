"""Plugin hooks. A plugin implements any of them with :data:`rewardkit.hookimpl`.

Each hook receives a ``register`` callback; rewardkit owns the registries. A misspelled hook
(``register_reward`` for ``register_rewards``) is an error when the plugin loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from .judges.base import Judge
    from .ladders import Ladder
    from .records import Judged
    from .redteam.attacks import AttackFamily
    from .rules import RewardRule

hookspec = pluggy.HookspecMarker("rewardkit")
hookimpl = pluggy.HookimplMarker("rewardkit")


class RegisterLadder(Protocol):
    def __call__(self, ladder: Ladder) -> None: ...


class RegisterJudge(Protocol):
    def __call__(self, name: str, factory: Callable[..., Judge]) -> None: ...


class RegisterRule(Protocol):
    def __call__(self, name: str, factory: Callable[..., RewardRule]) -> None: ...


#: ``metric(judged, rewards, group_size) -> {name: value}`` for one batch.
Metric = Callable[["Judged", Any, int], dict[str, float]]


class RegisterMetric(Protocol):
    def __call__(self, name: str, metric: Metric) -> None: ...


class RegisterAttack(Protocol):
    def __call__(self, family: AttackFamily) -> None: ...


@hookspec
def register_ladders(register: RegisterLadder) -> None:
    """Register ladders: ``register(ladder)`` with a :class:`rewardkit.Ladder`; its ``name``
    is the registry key."""


@hookspec
def register_judges(register: RegisterJudge) -> None:
    """Register judge factories: ``register(name, factory)``, where ``factory(**options)``
    returns a :class:`rewardkit.judges.Judge`. ``factory.options`` (a
    :class:`rewardkit.options.Options`) declares what it takes: its flags, checks and listing
    come from it (without it, the parameters of its signature)."""


@hookspec
def register_rewards(register: RegisterRule) -> None:
    """Register reward rule factories: ``register(name, factory)``, where
    ``factory(**options)`` returns a :class:`rewardkit.rules.RewardRule`; ``factory.options``
    declares what it takes, as for judges."""


@hookspec
def register_metrics(register: RegisterMetric) -> None:
    """Register batch metrics: ``register(name, metric)``, where
    ``metric(judged, rewards, group_size)`` returns ``{key: value}`` for one batch (rewards
    are a float array, NaN where unscored). Every adapter logs them, each key as
    ``<name>/<key>``."""


class RegisterCommand(Protocol):
    def __call__(self, command: Any) -> None: ...


@hookspec
def register_commands(register: RegisterCommand) -> None:
    """Register ``rewardkit`` subcommands: ``register(command)`` with a
    :class:`rewardkit.cli.command.Command` (name, help, ``add_arguments``, ``run``); its
    ``name`` is the registry key."""


@hookspec
def register_attacks(register: RegisterAttack) -> None:
    """Register red-team attack families: ``register(family)`` with a
    :class:`rewardkit.redteam.AttackFamily`; its ``name`` is the registry key.
    ``rewardkit redteam`` runs every registered family against a judge."""

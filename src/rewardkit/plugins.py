"""Plugin loading and the registries of ladders, judges and reward rules.

Plugins are found through the ``rewardkit`` entry-point group, loaded lazily (on the first
registry lookup) and once; a plugin registered at run time with ``pm.register(plugin)`` is
picked up on the next lookup. ``REWARDKIT_LOAD_PLUGINS`` limits which installed plugin packages
load: a comma-separated list of the names ``rewardkit plugins`` prints (plugin or package
names), or empty for none; ``REWARDKIT_DISABLE_PLUGINS`` lists plugins to leave out. A name in
either that matches no installed plugin is logged as a warning. An installed plugin that
fails to import is left out with a warning naming it (``rewardkit plugins`` lists it with its
error); rewardkit's built-ins always load. A plugin that implements a hook
rewardkit does not have (a misspelling) is a :class:`PluginError` when it loads.

>>> get_ladder("speciarl").slugs[0]
'wrong'
>>> get_rule("graded")(["less_specific"])
[0.75]
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, RegistryError
from .ladders import Ladder
from .options import Options

__all__ = [
    "pm",
    "load_plugins",
    "get_plugins",
    "ladders",
    "get_ladder",
    "judges",
    "get_judge",
    "judge_options",
    "rules",
    "get_rule",
    "rule_options",
    "metrics",
    "attacks",
    "get_attack",
    "commands",
    "RegistryError",
    "PluginError",
]

ENTRY_POINT_GROUP = "rewardkit"
ENV_VAR = "REWARDKIT_LOAD_PLUGINS"
DISABLE_VAR = "REWARDKIT_DISABLE_PLUGINS"

log = logging.getLogger(__name__)

pm = pluggy.PluginManager("rewardkit")
pm.add_hookspecs(hookspecs)

_lock = threading.Lock()
_loaded = False
_registry: dict[str, Any] = {}
_dists: dict[str, importlib.metadata.Distribution] = {}  # plugin name -> its package
_broken: dict[str, str] = {}  # installed plugins that failed to load -> why


_KINDS = {
    "ladder": "register_ladders",
    "judge": "register_judges",
    "rule": "register_rewards",
    "metric": "register_metrics",
    "attack": "register_attacks",
    "command": "register_commands",
}


def load_plugins() -> None:
    """Load the built-ins and installed plugins, once; then fill the registries."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        from . import builtins

        pm.register(builtins, name="rewardkit.builtins")
        allow, deny = _names(ENV_VAR), _names(DISABLE_VAR) or set()
        found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        for ep in found:
            dist = ep.dist.name if ep.dist else None
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            if allow is not None and dist not in allow and ep.name not in allow:
                continue
            if dist in deny or ep.name in deny:
                continue
            _load(ep)
        _unknown_names(found, allow, deny)
        _check()
        _loaded = True


def _names(variable: str) -> set[str] | None:
    """The plugin names an environment variable lists (None when it is not set)."""
    value = os.environ.get(variable)
    return None if value is None else {n.strip() for n in value.split(",") if n.strip()}


def _load(ep: importlib.metadata.EntryPoint) -> None:
    """Register one installed plugin; one that fails to import is skipped with a warning
    naming it and how to leave it out, and rewardkit goes on without it."""
    try:
        pm.register(ep.load(), name=ep.name)
    except Exception as e:  # the plugin's own code: any error
        _broken[ep.name] = f"{type(e).__name__}: {e}"
        package = f" (package {ep.dist.name} {ep.dist.version})" if ep.dist else ""
        log.warning(
            "plugin %r%s cannot be loaded and is left out: %s; leave it out quietly with "
            "%s=%s, or uninstall it",
            ep.name,
            package,
            _broken[ep.name],
            DISABLE_VAR,
            ep.name,
        )
        return
    if ep.dist is not None:
        _dists[ep.name] = ep.dist


def _unknown_names(
    found: list[importlib.metadata.EntryPoint], allow: set[str] | None, deny: set[str]
) -> None:
    """Warn about names in the plugin variables that match no installed plugin (a typo)."""
    known = {ep.name for ep in found} | {ep.dist.name for ep in found if ep.dist}
    for variable, names in ((ENV_VAR, allow or set()), (DISABLE_VAR, deny)):
        for name in sorted(names - known):
            installed = ", ".join(sorted({ep.name for ep in found})) or "none"
            log.warning(
                "%s names %r, which is no installed plugin (installed: %s)",
                variable,
                name,
                installed,
            )


def _check() -> None:
    """Every hook a plugin implements must be one of rewardkit's (pluggy's check_pending)."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as e:
        raise PluginError(
            f"{e}; rewardkit's hooks are {', '.join(sorted(_KINDS.values()))}"
        ) from None


def _current() -> dict[str, Any]:
    """The registries, rebuilt when a plugin was registered or unregistered at run time."""
    load_plugins()
    names = frozenset(name for name, _ in pm.list_name_plugin())
    if _registry.get("names") != names:
        with _lock:
            _check()
            _registry.clear()
            _registry.update(_collect(), names=names)
    return _registry


def _collect() -> dict[str, Any]:
    registry: dict[str, Any] = {kind: {} for kind in _KINDS}
    owners: dict[tuple[str, str], str] = {}

    def adder(kind: str, plugin: str) -> Callable:
        def register(name: Any, factory: Callable | None = None) -> None:
            if kind == "ladder":
                if not isinstance(name, Ladder):
                    raise TypeError(f"register_ladders expects a Ladder, got {name!r}")
                name, factory = name.name, name
            elif kind == "command":  # a Command (its type lives in rewardkit.cli)
                if not (isinstance(getattr(name, "name", None), str) and hasattr(name, "run")):
                    raise TypeError(f"register_commands expects a Command, got {name!r}")
                name, factory = name.name, name
            elif kind == "attack":  # an AttackFamily (its type lives in rewardkit.redteam)
                if not (isinstance(getattr(name, "name", None), str) and hasattr(name, "attacks")):
                    raise TypeError(f"register_attacks expects an AttackFamily, got {name!r}")
                name, factory = name.name, name
            elif not callable(factory):
                raise TypeError(f"{kind} {name!r}: factory must be callable, got {factory!r}")
            if name in registry[kind]:
                raise RegistryError(
                    f"{kind} {name!r} is registered twice (by {owners[kind, name]} and {plugin})"
                )
            registry[kind][name] = factory
            owners[kind, name] = plugin

        return register

    failed: set[str] = set()
    for kind, hook in _KINDS.items():
        # Each implementation on its own, so the registry knows which plugin added what;
        # rewardkit's own first, then plugins in the order they were registered (listings and
        # help texts the same whenever a plugin was registered).
        impls = getattr(pm.hook, hook).get_hookimpls()
        for impl in sorted(impls, key=lambda i: i.plugin_name != "rewardkit.builtins"):
            if impl.plugin_name in failed:
                continue
            try:
                impl.function(register=adder(kind, impl.plugin_name))
            except RegistryError:
                raise
            except Exception as e:  # the plugin's own code: any error leaves it out
                failed.add(impl.plugin_name)
                _left_out(impl.plugin_name, hook, e)
    for (kind, name), plugin in list(owners.items()):  # nothing of a plugin that failed
        if plugin in failed:
            del registry[kind][name], owners[kind, name]
    registry["owners"] = owners
    return registry


def _left_out(plugin: str, hook: str, error: Exception) -> None:
    """A plugin whose hook raised: recorded and warned about once, rewardkit goes on."""
    why = f"{hook} raised {type(error).__name__}: {error}"
    if _broken.get(plugin) != why:
        _broken[plugin] = why
        log.warning(
            "plugin %r is left out: %s; leave it out quietly with %s=%s, or uninstall it",
            plugin,
            why,
            DISABLE_VAR,
            plugin,
        )


def _lookup(kind: str, name: str) -> Any:
    registry = _current()[kind]
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry)) or "none"
        raise RegistryError(f"unknown {kind} {name!r}; known: {known}") from None


def ladders() -> dict[str, Ladder]:
    """All registered ladders by name."""
    return dict(_current()["ladder"])


def get_ladder(name: str) -> Ladder:
    return _lookup("ladder", name)


def judges() -> dict[str, Callable]:
    """All registered judge factories by name."""
    return dict(_current()["judge"])


def judge_options(name: str) -> Options:
    """The options the judge registered as ``name`` declares (:mod:`rewardkit.options`; for a
    factory that declares none, those its signature names)."""
    return Options.of(_lookup("judge", name))


def get_judge(name: str, **options: Any):
    """Build the judge registered as ``name`` with ``options``, checked against its declared
    options first (an :class:`~rewardkit.errors.OptionError` names an unknown, missing or
    mistyped option and the judge); the defaults of the rest are filled in. A ``ladder``
    option given by name reaches the factory as the registered :class:`~rewardkit.Ladder`."""
    factory = _lookup("judge", name)
    options = Options.of(factory).validate(options, f"judge {name!r}")
    if isinstance(options.get("ladder"), str):
        options["ladder"] = get_ladder(options["ladder"])
    return factory(**options)


def rules() -> dict[str, Callable]:
    """All registered reward rule factories by name."""
    return dict(_current()["rule"])


def rule_options(name: str) -> Options:
    """The options the reward rule registered as ``name`` declares."""
    return Options.of(_lookup("rule", name))


def get_rule(name: str, **options: Any):
    """Build the reward rule registered as ``name`` with ``options``, checked against its
    declared options first (as :func:`get_judge`)."""
    factory = _lookup("rule", name)
    return factory(**Options.of(factory).validate(options, f"rule {name!r}"))


def metrics() -> dict[str, Callable]:
    """All registered batch metrics by name."""
    return dict(_current()["metric"])


def commands() -> dict[str, Any]:
    """The commands plugins add to ``rewardkit``, by name."""
    return dict(_current()["command"])


def attacks() -> dict[str, Any]:
    """All registered red-team attack families by name."""
    return dict(_current()["attack"])


def get_attack(name: str) -> Any:
    """The attack family registered as ``name``."""
    return _lookup("attack", name)


def get_plugins() -> list[dict[str, Any]]:
    """The plugins: name, hooks, what each registered (ladders, judges, rules,
    metrics, attacks), the options of its judges and rules, and version and package where
    the plugin is a package; a plugin that failed to load or register, with its ``error``."""
    registry = _current()
    owners = registry["owners"]
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        info: dict[str, Any] = {
            "name": name,
            "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
        }
        for kind in _KINDS:
            info[f"{kind}s"] = sorted(
                n for (k, n), who in owners.items() if k == kind and who == name
            )
        info["options"] = {
            f"{kind} {n}": Options.of(registry[kind][n]).describe()
            for kind in ("judge", "rule")
            for n in info[f"{kind}s"]
        }
        dist = _dists.get(name) if name else None
        if dist is not None:
            info["version"] = dist.version
            info["package"] = dist.metadata["Name"]
        elif name == "rewardkit.builtins":
            from .version import __version__

            info["version"] = __version__
        if name in _broken:
            info["error"] = _broken[name]
        out.append(info)
    loaded = {p["name"] for p in out}
    out += [{"name": n, "error": why} for n, why in _broken.items() if n not in loaded]
    return sorted(out, key=lambda p: p["name"])

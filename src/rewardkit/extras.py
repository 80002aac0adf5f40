"""Optional dependencies: which extra installs each, and one error that says so.

rewardkit's core needs numpy and pluggy; a judge, a trainer adapter or the server needs more.
:func:`require` checks a module is installed (without importing it) and raises
:class:`~rewardkit.errors.MissingExtra` naming the extra that installs it;
:func:`missing_extra` turns a ``ModuleNotFoundError`` raised anywhere into that error, so the
command line prints one line instead of a traceback.

>>> require("json", "openai", "the test")  # installed: nothing happens
>>> missing_extra(ModuleNotFoundError("No module named 'aiohttp'", name="aiohttp")).args[0]
"aiohttp is not installed: pip install 'rewardkit-rl[openai]'"
>>> missing_extra(ModuleNotFoundError("No module named 'nosuch'", name="nosuch")) is None
True
"""

from __future__ import annotations

import importlib.util

from .errors import MissingExtra

__all__ = ["EXTRAS", "require", "missing_extra", "install_hint"]

#: The extra that installs each optional top-level module.
EXTRAS = {
    "aiohttp": "openai",
    "torch": "torch",
    "transformers": "torch",
    "tokenizers": "torch",
    "tqdm": "torch",
    "trl": "trl",
    "accelerate": "trl",
    "datasets": "trl",
    "litellm": "litellm",
    "tenacity": "litellm",
    "vllm": "vllm",
    "math_verify": "math",
    "matplotlib": "demo",
    "redis": "redis",
    "yaml": "yaml",
    "openrlhf": "openrlhf",
    "peft": "speciarl",
    "scipy": "speciarl",
}


def install_hint(extra: str) -> str:
    """The command that installs ``extra``."""
    return f"pip install 'rewardkit-rl[{extra}]'"


def require(module: str, extra: str | None = None, what: str | None = None) -> None:
    """Raise :class:`MissingExtra` unless ``module`` is installed; ``extra`` (default: from
    :data:`EXTRAS`) is the extra that installs it, ``what`` the feature that needs it."""
    top = module.split(".")[0]
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):  # a module whose import was blocked or half-done
        found = False
    if not found:
        raise _error(top, extra or EXTRAS.get(top), what)


def missing_extra(error: BaseException) -> MissingExtra | None:
    """``error`` as a :class:`MissingExtra` when it is a missing optional module (a
    ``ModuleNotFoundError`` for a module of :data:`EXTRAS`), else None."""
    if isinstance(error, MissingExtra):
        return error
    if not isinstance(error, ImportError):
        return None
    top = (getattr(error, "name", None) or "").split(".")[0]
    if top not in EXTRAS:
        return None
    return _error(top, EXTRAS[top], None)


# Where the package's name is not its module's.
_PACKAGES = {"math_verify": "math-verify", "yaml": "pyyaml"}


def _error(module: str, extra: str | None, what: str | None) -> MissingExtra:
    package = _PACKAGES.get(module, module)
    needs = f"{what} needs {package}" if what else f"{package} is not installed"
    hint = install_hint(extra) if extra else f"pip install {package}"
    error = MissingExtra(f"{needs}: {hint}")
    error.name = module
    return error

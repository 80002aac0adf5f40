"""Every error rewardkit raises on purpose, in one low module any layer may import.

``except rewardkit.RewardkitError`` catches them all; each also derives from the built-in type
it refines (``ValueError``, ``LookupError``, ...), so existing handlers keep working. The
modules that raise them re-export them under their old names (``rewardkit.spec.SpecError``,
``rewardkit.judges.llm.JudgeError``, ...).

>>> issubclass(SpecError, ValueError) and issubclass(SpecError, RewardkitError)
True
"""

from __future__ import annotations

__all__ = [
    "RewardkitError",
    "StoreUnavailable",
    "RegistryError",
    "PluginError",
    "SpecError",
    "OptionError",
    "TaxonomyError",
    "UnknownLabelError",
    "JudgeError",
    "JudgeConfigError",
    "JudgeFailureRateError",
    "TransportError",
    "CacheError",
    "CacheUnavailable",
    "GroupLayoutError",
    "CLIError",
    "RewardHackingAlarm",
    "MissingExtra",
]


class RewardkitError(Exception):
    """Base class of rewardkit's exceptions."""


class StoreUnavailable(RewardkitError, ConnectionError):
    """A shared store (Redis groups or cache) cannot be reached or refuses us: wrong address,
    wrong password, wrong database, or gone mid-run. The service answers 503 with the reason."""


class RegistryError(RewardkitError, LookupError):
    """An unknown or doubly registered ladder, judge or rule name."""

    def __str__(self) -> str:
        return str(self.args[0])


class PluginError(RewardkitError, RuntimeError):
    """A plugin that cannot be loaded as written (a hook rewardkit does not have)."""


class SpecError(RewardkitError, ValueError):
    """A reward spec that cannot be read: unknown keys, wrong types, not JSON."""


class OptionError(RewardkitError, ValueError):
    """An option a judge or rule does not take, a required one not given, or a value of the
    wrong type; the message names the option and the judge or rule. ``missing``: the name of
    the required option not given, if that is the error."""

    def __init__(self, message: str, *, missing: str | None = None) -> None:
        super().__init__(message)
        self.missing = missing


class TaxonomyError(RewardkitError, ValueError):
    """A malformed taxonomy."""


class UnknownLabelError(RewardkitError, KeyError):
    """A ground-truth label that is not in the taxonomy."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return str(self.args[0])


class JudgeError(RewardkitError, RuntimeError):
    """A judge call failed after its retries (raised with ``on_failure="raise"``)."""


class JudgeConfigError(JudgeError):
    """The judge cannot work as configured (bad key, wrong URL or model, endpoint down)."""


class JudgeFailureRateError(JudgeError):
    """Too many calls of one batch failed; ``errors`` has the count per cause."""

    def __init__(self, message: str, errors: dict[str, int]) -> None:
        super().__init__(message)
        self.errors = errors


class TransportError(RewardkitError):
    """A failed call. ``kind`` names the cause for counts ("http 500", "connection", ...);
    ``retryable`` for timeouts, connection errors, 429 and 5xx; ``fatal`` for errors no other
    pair can escape (401, 403, 404, an invalid URL); ``retry_after`` from the server."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        kind: str | None = None,
        fatal: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable, self.status, self.fatal = retryable, status, fatal
        self.kind = kind or (f"http {status}" if status else "connection")
        self.retry_after = retry_after


class CacheError(RewardkitError, RuntimeError):
    """The verdict cache cannot be used: unreadable, unwritable, corrupt or of another schema."""


class CacheUnavailable(CacheError, StoreUnavailable):
    """A shared verdict cache (Redis) cannot be reached or refuses us when it is opened: wrong
    address, password or database, read-only, or the ``redis`` package missing. A
    :class:`CacheError` (the command line exits 2) and a
    :class:`~rewardkit.errors.StoreUnavailable` (the service names the store)."""


class GroupLayoutError(RewardkitError, ValueError):
    """The completions of a group do not share one prompt: the layout is not what GRPO uses."""


class MissingExtra(RewardkitError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it
    (``pip install 'rewardkit-rl[openai]'``). ``name`` is the missing module."""


class RewardHackingAlarm(RewardkitError, RuntimeError):
    """A training monitor's alarm under the ``stop`` policy: the audit judge and the training
    judge part ways (reward gap, kappa) or the answers drift; the message holds the evidence."""


class CLIError(RewardkitError):
    """A user-facing error: printed without a traceback."""

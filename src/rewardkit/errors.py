"""The base of rewardkit's own exceptions: ``except rewardkit.RewardkitError`` catches every
error rewardkit raises on purpose (each also derives from the built-in type it refines, such as
``ValueError`` or ``LookupError``, so existing handlers keep working)."""

from __future__ import annotations

__all__ = ["RewardkitError", "StoreUnavailable"]


class RewardkitError(Exception):
    """Base class of rewardkit's exceptions."""


class StoreUnavailable(RewardkitError, ConnectionError):
    """A shared store (Redis groups or cache) cannot be reached or refuses us: wrong address,
    wrong password, wrong database, or gone mid-run. The service answers 503 with the reason."""

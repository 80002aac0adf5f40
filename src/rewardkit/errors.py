"""The base of rewardkit's own exceptions: ``except rewardkit.RewardkitError`` catches every
error rewardkit raises on purpose (each also derives from the built-in type it refines, such as
``ValueError`` or ``LookupError``, so existing handlers keep working)."""

from __future__ import annotations

__all__ = ["RewardkitError"]


class RewardkitError(Exception):
    """Base class of rewardkit's exceptions."""

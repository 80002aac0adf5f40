"""State kept per event loop: a judge may be called from several threads at once (OpenRLHF's
reward workers), each running its own loop, and what belongs to a loop (a client session, a
semaphore, the batches in flight) must not cross to another.

A :class:`PerLoop` forgets a loop when the loop is gone, and pickles empty: what it held
belongs to loops of the process that pickled it.

>>> import asyncio, pickle
>>> sessions = PerLoop(dict)
>>> async def use():
...     sessions.get()["calls"] = 1
...     return sessions.get()
>>> asyncio.run(use())
{'calls': 1}
>>> pickle.loads(pickle.dumps(sessions)).peek() is None
True
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One value per running event loop, made by ``make`` when a loop first asks (without
    ``make``, values are :meth:`set`)."""

    def __init__(self, make: Callable[[], T] | None = None) -> None:
        self._make = make
        self._values: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The running loop's value (made now if it has none)."""
        loop = asyncio.get_running_loop()
        value = self._values.get(loop)
        if value is None:
            assert self._make is not None, "a PerLoop without make: peek() or set()"
            value = self._values[loop] = self._make()
        return value

    def peek(self) -> T | None:
        """The running loop's value, or ``None`` (also outside a loop); nothing is made."""
        try:
            return self._values.get(asyncio.get_running_loop())
        except RuntimeError:
            return None

    def set(self, value: T) -> None:
        self._values[asyncio.get_running_loop()] = value

    def pop(self) -> T | None:
        """The running loop's value, forgotten."""
        return self._values.pop(asyncio.get_running_loop(), None)

    def __reduce__(self):
        return (PerLoop, (self._make,))

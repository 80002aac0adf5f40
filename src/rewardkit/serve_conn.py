"""Connections of ``rewardkit serve``: the listening socket and the read deadline.

aiohttp's server waits for a request's headers as long as a client cares to send them, one
byte at a time (slowloris). :class:`ReadDeadline` sits between each connection and aiohttp's
protocol and closes a connection whose request headers are not complete ``timeout`` seconds
after the connection opened or after the first byte of the request: the application calls
:func:`request_started` when a request reaches it (headers complete) and
:func:`request_finished` when it answered. The body has its own deadline, in the application
(``asyncio.wait_for`` around the read). An idle keep-alive connection between requests is
aiohttp's ``keepalive_timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["ReadDeadline", "listen", "request_started", "request_finished"]


class ReadDeadline(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection; ``on_timeout`` is told of each close."""

    def __init__(self, inner: Any, timeout: float, on_timeout: Callable[[], None]) -> None:
        self.inner, self.timeout, self.on_timeout = inner, timeout, on_timeout
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.busy = False  # a request is with the application

    def _arm(self) -> None:
        if self.timer is None and not self.busy:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.timeout, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if not self.busy and self.transport is not None and not self.transport.is_closing():
            self.on_timeout()
            self.transport.close()

    # -- asyncio.Protocol, passed on to aiohttp --------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self._arm()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._arm()  # the first byte of a request starts its clock
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.transport = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _deadline(request: Any) -> ReadDeadline | None:
    transport = request.transport
    protocol = transport.get_protocol() if transport is not None else None
    return protocol if isinstance(protocol, ReadDeadline) else None


def request_started(request: Any) -> None:
    """The request's headers are in: its connection is busy, no read deadline runs."""
    conn = _deadline(request)
    if conn is not None:
        conn.busy = True
        conn._disarm()


def request_finished(request: Any) -> None:
    """Answered: the next request's first byte starts the clock again."""
    conn = _deadline(request)
    if conn is not None:
        conn.busy = False


async def listen(
    factory: Callable[[], Any],
    host: str,
    port: int,
    timeout: float,
    on_timeout: Callable[[], None],
) -> asyncio.Server:
    """A TCP server whose connections are aiohttp's ``factory()`` behind a read deadline."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: ReadDeadline(factory(), timeout, on_timeout), host, port, reuse_address=True
    )

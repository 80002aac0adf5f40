"""What ``rewardkit serve`` checks and hides: Redis reachable at start, no secret in a log line.

:func:`check_redis` connects to a ``redis://`` URL once (address, password, database) and raises
:class:`~rewardkit.errors.StoreUnavailable` with one line naming the problem.
:func:`redact` masks the password of every URL in a text (``redis://:***@host:6379/0``) and
query values named like a secret; :func:`log_redacted` sends every log record of the process
through it, tracebacks included.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from .errors import StoreUnavailable
from .urls import redact

__all__ = ["redact", "log_redacted", "check_redis", "is_redis_url"]

class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def log_redacted(prefix: str = "rewardkit serve") -> None:
    """Log warnings and errors of every logger (and Python warnings) to stderr, redacted
    (once per process)."""
    root = logging.getLogger()
    if any(isinstance(f, _Redact) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prefix}: %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.captureWarnings(True)


def is_redis_url(url: object) -> TypeGuard[str]:
    return isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://"))


def _database(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "unix" and parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise StoreUnavailable(
            f"{what} {redact(url)}: {parts.path.strip('/')!r} is not a database number"
        )


async def check_redis(url: str, what: str, timeout: float = 5.0) -> None:
    """Connect to ``url`` once (``PING``); :class:`StoreUnavailable` names what is wrong:
    nothing listening, a password missing or refused, a database that does not exist."""
    _database(url, what)
    try:
        import redis.asyncio as aioredis
        from redis import exceptions as E
    except ImportError:
        raise StoreUnavailable(f"{what} needs the redis package: pip install redis") from None
    shown = redact(url)
    client: Any = aioredis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        await client.ping()
    except E.AuthenticationError as e:
        given = urlsplit(url).password is not None
        problem = "refused the password" if given else "needs a password (none in the URL)"
        raise StoreUnavailable(f"{what} {shown}: Redis {problem} ({e})") from None
    except (E.ConnectionError, E.TimeoutError, OSError) as e:
        raise StoreUnavailable(f"{what} {shown}: cannot reach Redis ({e})") from None
    except E.ResponseError as e:
        message = str(e)
        if "DB index" in message:
            message = f"no such database ({message})"
        raise StoreUnavailable(f"{what} {shown}: Redis refused us: {message}") from None
    finally:
        await client.aclose()

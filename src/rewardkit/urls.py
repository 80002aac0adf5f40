"""URLs as logs and error messages may show them: without passwords.

>>> redact_url("redis://:hunter2@10.0.0.5:6379/0")
'redis://:***@10.0.0.5:6379/0'
>>> redact_url("rediss://judge:p@ss/w0rd@cache.internal:6380/1?ttl=60&password=x")
'rediss://judge:***@cache.internal:6380/1?ttl=60&password=***'
>>> redact_url("http://127.0.0.1:8000/v1")
'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

import re

__all__ = ["redact_url"]

# Query parameters that carry a secret (redis-py reads ?password=).
_SECRET_PARAM = re.compile(
    r"([?&;][^=&;#]*(?:pass|secret|token|key|auth|credential)[^=&;#]*=)[^&;#]*", re.IGNORECASE
)


def redact_url(url: object) -> str:
    """``url`` with every password replaced by ``***``: the user information (everything
    between ``://`` and the last ``@``, since a password may hold ``/``, ``?`` or ``#``
    unescaped; a user name before the first ``:`` is kept) and query parameters named like
    a secret (``password=``, ``token=``, ``api_key=``). Anything else is left as written."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    userinfo, at, tail = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:***@{tail}" if colon else f"***@{tail}"
    rest = _SECRET_PARAM.sub(r"\1***", rest)
    return f"{scheme}{sep}{rest}"

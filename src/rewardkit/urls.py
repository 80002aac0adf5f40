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

__all__ = ["redact", "redact_url"]

_SECRET_WORDS = ("pass", "secret", "token", "key", "auth", "credential")
_TOKEN_END = re.compile(r"[\s\"'<>\\]")


def _redact_query(query: str) -> str:
    parts = re.split(r"([&;])", query)
    for i in range(0, len(parts), 2):
        name, eq, _ = parts[i].partition("=")
        if eq and any(word in name.lower() for word in _SECRET_WORDS):
            parts[i] = f"{name}=***"
    return "".join(parts)


def redact_url(url: object) -> str:
    """``url`` with every password replaced by ``***``: the user information (everything
    between ``://`` and the last ``@``, since a password may hold ``/``, ``?`` or ``#``
    unescaped; a user name before the first ``:`` is kept) and query parameters named like
    a secret (``password=``, ``token=``, ``api_key=``). Anything else is left as written.
    Linear in the URL's length."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    userinfo, at, tail = rest.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        rest = f"{user}:***@{tail}" if colon else f"***@{tail}"
    path, mark, query = rest.partition("?")
    if mark:
        rest = path + mark + _redact_query(query)
    return f"{scheme}{sep}{rest}"


def redact(text: str) -> str:
    """``text`` (a log line, an error) with :func:`redact_url` applied to every URL in it; a
    URL runs from its ``scheme://`` to the next space or quote. Linear in the text's length.

    >>> redact("cannot reach redis://:pw@h:6379/0 (refused)")
    'cannot reach redis://:***@h:6379/0 (refused)'
    """
    if "://" not in text:
        return text
    out, i = [], 0
    while (j := text.find("://", i)) >= 0:
        start = j + 3
        end = _TOKEN_END.search(text, start)
        stop = end.start() if end else len(text)
        out.append(text[i:start] + redact_url(text[start:stop]))
        i = stop
    out.append(text[i:])
    return "".join(out)

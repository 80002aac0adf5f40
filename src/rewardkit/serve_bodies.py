"""Request bodies of ``rewardkit serve``: strict JSON and field checks.

A body is UTF-8 JSON (a declared charset must be UTF-8), one object, no duplicate keys, no
``NaN``/``Infinity``, no lone surrogates in the strings the server reads. Anything else is a
:class:`BadRequest` whose message names the field (the service answers 400 with it).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "BadRequest",
    "TooMany",
    "at_most",
    "parse_body",
    "strings",
    "optional_strings",
    "ids",
    "group_size",
    "pair_item",
    "known_labels",
    "guard",
]

#: Characters of a client's value quoted back in an error message.
_QUOTE = 60
#: Characters of one id (an idempotency identity such as a rollout's uid and index).
MAX_ID = 256


class BadRequest(ValueError):
    """A request whose body is not what the endpoint reads (400, naming the field)."""

    status = 400


class TooMany(BadRequest):
    """A request of more pairs or completions than the server takes (413, naming the limit)."""

    status = 413


def at_most(items: list, key: str, limit: int) -> list:
    """``items`` of field ``key``, or :class:`TooMany` if there are more than ``limit``."""
    if len(items) > limit:
        raise TooMany(
            f"field {key!r} has {len(items)} items, over the limit of {limit} per request "
            "(--max-pairs)"
        )
    return items


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _QUOTE else text[:_QUOTE] + "..."


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadRequest(f"body repeats the key {_quote(key)}")
            seen.add(key)
    return out


def _no_constant(name: str) -> Any:
    raise BadRequest(f"body is not valid JSON ({name}: numbers must be finite)")


def parse_body(raw: bytes, charset: str | None) -> dict:
    """The JSON object of a request body, or :class:`BadRequest` saying what is wrong."""
    if charset is not None and charset.lower().replace("-", "").replace("_", "") != "utf8":
        raise BadRequest(f"Content-Type charset {_quote(charset)} is not supported: send UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"body is not UTF-8 (byte {e.start}: {e.reason})") from None
    try:
        body = json.loads(text, object_pairs_hook=_pairs_hook, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise BadRequest(f"body is not valid JSON ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise BadRequest("body is not valid JSON (nested too deeply)") from None
    except BadRequest:
        raise
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise BadRequest(f"body is not valid JSON ({e})") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{where} is not valid Unicode (a lone surrogate)") from None
    return value


def strings(body: dict, key: str, n: int | None = None) -> list[str]:
    """Field ``key``: a list of strings (of ``n`` items when given)."""
    value = body.get(key)
    if not isinstance(value, list) or not all(type(x) is str for x in value):
        raise BadRequest(f"field {key!r} must be a list of strings")
    if n is not None and len(value) != n:
        raise BadRequest(f"field {key!r} has {len(value)} items, expected {n}")
    try:
        "".join(value).encode("utf-8")  # one pass; the item is looked for only if it fails
    except UnicodeEncodeError:
        for i, x in enumerate(value):
            _text(x, f"{key}[{i}]")
    return value


def optional_strings(body: dict, key: str, n: int) -> list[str] | None:
    """Field ``key`` when present (and not null): a list of ``n`` strings."""
    return None if body.get(key) is None else strings(body, key, n)


def ids(body: dict, n: int) -> list[str] | None:
    """The optional ``ids`` field: ``n`` distinct non-empty strings of at most ``MAX_ID``
    characters, one identity per sample (a retried sample sends the same id)."""
    values = optional_strings(body, "ids", n)
    if values is None:
        return None
    seen: set[str] = set()
    for i, x in enumerate(values):
        if not x or len(x) > MAX_ID:
            raise BadRequest(f"ids[{i}] must be a non-empty string of at most {MAX_ID} characters")
        if x in seen:
            raise BadRequest(f"ids[{i}] repeats the id {_quote(x)}: one id per sample")
        seen.add(x)
    return values


def group_size(body: dict, n: int, default: int) -> int:
    """The ``group_size`` field (``default``, the server's, when absent): a positive integer
    that splits the ``n`` completions into whole groups."""
    size = body.get("group_size")
    if size is None:
        size, where = default, f"the server's group size {default}"
    else:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise BadRequest(f"field 'group_size' must be a positive integer, got {_quote(size)}")
        where = f"group_size {_quote(size)}"
    if n and (size > n or n % size):
        raise BadRequest(
            f"field 'completions' has {n} items, which do not split into groups of {where}"
        )
    return size


def pair_item(i: int, pair: Any, question: bool) -> tuple:
    """``pairs[i]`` of ``/v1/judge``: ``(label, prediction)``, or with ``question`` (a judge
    that reads it) ``(label, prediction, question)``; the prediction may be null."""
    if not isinstance(pair, dict):
        raise BadRequest(f"pairs[{i}] must be an object")
    label, prediction = pair.get("label"), pair.get("prediction")
    if not isinstance(label, str):
        raise BadRequest(f"pairs[{i}].label must be a string")
    _text(label, f"pairs[{i}].label")
    if prediction is not None:
        if not isinstance(prediction, str):
            raise BadRequest(f"pairs[{i}].prediction must be a string or null")
        _text(prediction, f"pairs[{i}].prediction")
    if not question:
        return label, prediction
    text = pair.get("question")
    if not isinstance(text, str):
        raise BadRequest(f"pairs[{i}].question must be a string: the judge reads it")
    return label, prediction, _text(text, f"pairs[{i}].question")


def known_labels(judge: Any, labels: list[str], where: str) -> None:
    """400 naming the first label ``judge`` does not know (``where``: ``"labels[{}]"``), for
    judges that check labels (the taxonomy judge)."""
    from .taxonomy import UnknownLabelError

    check = getattr(judge, "check_labels", None)
    if check is None:
        return
    try:
        check(labels)
    except UnknownLabelError:
        for i, label in enumerate(labels):  # which one
            try:
                check([label])
            except UnknownLabelError:
                raise BadRequest(f"{where.format(i)}: unknown label {_quote(label)}") from None


def guard(items: list[tuple], check: Any) -> dict[int, str]:
    """Take the predictions ``check`` refuses (the ladder's guard) out of ``items`` (label,
    prediction, ...), as :class:`~rewardkit.LadderReward` does: index -> the error to report."""
    refused = {}
    for i, (label, prediction, *rest) in enumerate(items):
        why = None if prediction is None else check(prediction)
        if why is not None:
            refused[i], items[i] = f"no valid answer: {why}", (label, None, *rest)
    return refused

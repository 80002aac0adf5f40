"""Honest cache identities and checked caches: canonicalisers and parsers named by their code
(lambdas and local functions refused), display names in the identity, LiteLLM's endpoint however
it was set, and junk read back from the sqlite cache treated as a miss."""

import functools
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time

import pytest

import rewardkit as rk
from rewardkit.fingerprint import fingerprint
from rewardkit.judges.cache import VerdictCache
from rewardkit.judges.litellm_judge import endpoint_settings, litellm_judge
from rewardkit.judges.llm import JudgeConfigError
from rewardkit.judges.openai_compat import openai_judge
from rewardkit.ladders import Ladder, Rung
from rewardkit.urls import redact_url

from .conftest import ANIMALS, ROOT
from .judge_server import JudgeServer

# -- canonicalisers used below (module level: named, importable by the subprocess) ---------------

STOP = frozenset({"the", "a", "an"})


def drop_articles(text):
    words = [w for w in text.lower().split() if w not in STOP and w not in {"of", "la", "le"}]
    return " ".join(words)


def lower_only(text):
    return text.lower()


def upper_only(text):
    return text.upper()


def _stripping(chars):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(text):
            return fn(text).strip(chars)

        return wrapper

    return decorate


strip_dots = _stripping(".")(lower_only)  # named "lower_only", closing over "."
strip_bangs = _stripping("!")(lower_only)  # the same name and code, closing over "!"
holding_an_object = _stripping(object())(lower_only)  # a closure value nobody can name

RUNGS = [
    Rung("wrong", "Wrong", 0.0, False, "incorrect"),
    Rung("right", "Right", 1.0, True, "correct"),
]


class StrictLadder(Ladder):
    """A ladder whose parser reads the whole reply only."""

    def parse(self, reply, *, thinking=False):
        return self.label(reply) if isinstance(reply, str) else None


def judge(ladder, **options):
    """A judge that is never called (identities only): nothing listens on port 9."""
    return openai_judge("m", "http://127.0.0.1:9/v1", api_key_env=None, ladder=ladder, **options)


# -- canonicalisers and parsers ------------------------------------------------------------------


def test_lambda_and_local_canonicalisers_are_refused_with_the_fix():
    with pytest.raises(ValueError) as lam:
        Ladder("x", RUNGS, canonical=lambda s: s.lower())
    assert str(lam.value) == (
        "ladder 'x': canonicaliser test_lambda_and_local_canonicalisers_are_refused_with_the_fix"
        ".<locals>.<lambda> is a lambda: define it by name at module level, so that a cache "
        "identity can name it and it pickles"
    )

    def local(text):
        return text

    with pytest.raises(ValueError, match=r"local\b.*defined inside another function"):
        Ladder("x", RUNGS, canonical=local)
    with pytest.raises(ValueError, match="is a lambda"):
        Ladder("x", RUNGS, canonical=functools.partial(lambda s, n: s[:n], n=3))


def test_named_canonicalisers_with_other_code_or_closures_are_distinct():
    ids = {
        f.__name__ + repr(i): Ladder("x", RUNGS, canonical=f).canonical_id
        for i, f in enumerate([lower_only, upper_only, strip_dots, strip_bangs])
    }
    assert len(set(ids.values())) == 4
    assert Ladder("x", RUNGS, canonical=strip_dots).canonical_id.startswith(
        "tests.test_identity.lower_only@"
    )
    identities = {
        judge(Ladder("x", RUNGS, canonical=f)).identity for f in (strip_dots, strip_bangs)
    }
    assert len(identities) == 2
    with pytest.raises(ValueError, match=r"holds a object \(chars\)"):
        Ladder("x", RUNGS, canonical=holding_an_object)


def test_a_global_the_canonicaliser_reads_is_in_its_fingerprint(monkeypatch):
    before = fingerprint(drop_articles)
    monkeypatch.setattr(sys.modules[__name__], "STOP", frozenset({"the"}))
    assert fingerprint(drop_articles) != before
    assert fingerprint(str.casefold) == "builtins.str.casefold"
    assert fingerprint(functools.partial(str.strip)) != fingerprint(
        functools.partial(str.strip, ".")
    )


CHILD = """
import json
import rewardkit as rk
from tests.test_identity import judge, drop_articles, StrictLadder, RUNGS
from rewardkit.ladders import Ladder
from rewardkit.fingerprint import fingerprint
print(json.dumps([
    fingerprint(drop_articles),
    judge(Ladder("x", RUNGS, canonical=drop_articles)).identity,
    judge(StrictLadder("x", RUNGS)).identity,
    judge(rk.SPECIARL).identity,
]))
"""


def test_the_same_code_has_the_same_identity_in_another_process():
    here = [
        fingerprint(drop_articles),
        judge(Ladder("x", RUNGS, canonical=drop_articles)).identity,
        judge(StrictLadder("x", RUNGS)).identity,
        judge(rk.SPECIARL).identity,
    ]
    outs = []
    for seed in ("1", "2"):  # set and frozenset order changes with the hash seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outs.append(json.loads(done.stdout))
    assert outs[0] == outs[1] == here


def test_a_ladder_class_parser_is_in_the_identity_and_a_local_one_is_refused():
    base, strict = judge(Ladder("x", RUNGS)), judge(StrictLadder("x", RUNGS))
    assert base.identity != strict.identity

    class Local(Ladder):
        pass

    with pytest.raises(
        ValueError,
        match=r"ladder class test_\w+\.<locals>\.Local is defined inside another function",
    ):
        judge(Local("x", RUNGS))


def test_display_names_are_in_the_identity_and_scores_are_not():
    renamed = [
        Rung("wrong", "Wrong", 0.0, False, "incorrect"),
        Rung("right", "OK", 1.0, True, "correct"),
    ]
    rescored = [
        Rung("wrong", "Wrong", 0.0, False, "incorrect"),
        Rung("right", "Right", 5.0, True, "correct"),
    ]
    original = judge(Ladder("x", RUNGS)).identity
    assert judge(Ladder("x", renamed)).identity != original  # "OK" now reads as right
    assert judge(Ladder("x", rescored)).identity == original  # rewards change, verdicts do not


# -- LiteLLM: the endpoint however it was set ---------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch):
    for name in endpoint_settings("m") | endpoint_settings("hosted_vllm/m"):  # "m": every base
        if not name.startswith("litellm."):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    "model, variable",
    [
        ("openai/m", "OPENAI_BASE_URL"),
        ("openai/m", "OPENAI_API_BASE"),
        ("hosted_vllm/m", "HOSTED_VLLM_API_BASE"),
        ("hosted_vllm/m", "OPENAI_BASE_URL"),
        ("anthropic/claude", "ANTHROPIC_BASE_URL"),
    ],
)
def test_litellm_endpoints_from_the_environment_are_in_the_identity(clean_env, model, variable):
    unset = litellm_judge(model, mock_response="generic").identity
    clean_env.setenv(variable, "http://127.0.0.1:8001/v1")
    one = litellm_judge(model, mock_response="generic")
    clean_env.setenv(variable, "http://127.0.0.1:8002/v1")
    two = litellm_judge(model, mock_response="generic")
    assert len({unset, one.identity, two.identity}) == 3
    assert two.identity == litellm_judge(model, mock_response="generic").identity
    assert one.transport.endpoint == "http://127.0.0.1:8001/v1"


def test_litellm_settings_that_move_every_call_are_in_the_identity(clean_env):
    import litellm

    guessed = litellm_judge("claude-3-haiku", mock_response="generic").identity  # anthropic
    clean_env.setenv("ANTHROPIC_API_BASE", "http://127.0.0.1:8004")
    assert litellm_judge("claude-3-haiku", mock_response="generic").identity != guessed
    explicit = litellm_judge("openai/m", api_base="http://127.0.0.1:8005/v1", mock_response="x")
    clean_env.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8006/v1")  # api_base wins: the same
    again = litellm_judge("openai/m", api_base="http://127.0.0.1:8005/v1", mock_response="x")
    assert again.identity == explicit.identity
    clean_env.setenv("USE_LITELLM_PROXY", "True")  # every call to the proxy: not the same
    proxied = litellm_judge("openai/m", api_base="http://127.0.0.1:8005/v1", mock_response="x")
    assert proxied.identity != explicit.identity
    plain = litellm_judge("hosted_vllm/m", mock_response="x")
    clean_env.setattr(litellm, "api_base", "http://127.0.0.1:8007/v1")
    moved = litellm_judge("hosted_vllm/m", mock_response="x")
    assert moved.identity != plain.identity
    assert moved.transport.endpoint == "http://127.0.0.1:8007/v1"


def test_litellm_refuses_a_call_after_its_endpoint_moved(clean_env):
    judge = litellm_judge("hosted_vllm/m", mock_response="generic")
    assert judge.judge([("samoyed", "dog")]) == ["generic"]
    clean_env.setenv("HOSTED_VLLM_API_BASE", "http://127.0.0.1:8003/v1")
    with pytest.raises(JudgeConfigError, match="endpoint settings changed"):
        judge.judge([("samoyed", "cat")])


def test_two_servers_set_through_the_environment_share_no_verdicts(clean_env, tmp_path):
    cache = str(tmp_path / "verdicts.sqlite")
    lenient, strict = JudgeServer(rk.TaxonomyJudge(ANIMALS)), JudgeServer(rk.TaxonomyJudge(ANIMALS))
    strict.replies["dog"] = "wrong"
    with lenient, strict:
        clean_env.setenv("HOSTED_VLLM_API_BASE", lenient.url)
        a = litellm_judge("hosted_vllm/judge", cache=cache)
        assert a.judge([("samoyed", "dog")]) == ["generic"]
        clean_env.setenv("HOSTED_VLLM_API_BASE", strict.url)
        b = litellm_judge("hosted_vllm/judge", cache=cache)
        assert b.judge([("samoyed", "dog")]) == ["wrong"]
        assert (len(lenient.requests), len(strict.requests), b.stats.cache_hits) == (1, 1, 0)


# -- junk in the sqlite cache --------------------------------------------------------------------

JUNK = {
    "dog": "specificc",  # not a slug of the ladder
    "cat": "correct",  # a slug of another ladder
    "spitz": b"\xff\xfe\x00",  # a BLOB, not UTF-8
    "husky": 3,  # a number
    "wolf": '{"verdict": "specific"}',  # JSON
}


def test_junk_in_the_sqlite_cache_is_a_miss_then_judged_and_overwritten(tmp_path, caplog):
    path = str(tmp_path / "verdicts.sqlite")
    with JudgeServer(rk.TaxonomyJudge(ANIMALS)) as server:
        first = openai_judge("m", server.url, api_key_env=None, cache=path)
        with sqlite3.connect(path) as db:
            db.executemany(
                "INSERT INTO verdicts VALUES (?, ?, ?, '', ?)",
                [(first.identity, *first.key("samoyed", p), v) for p, v in JUNK.items()],
            )
        pairs = [("samoyed", p) for p in JUNK]
        with caplog.at_level(logging.WARNING, "rewardkit.judges"):
            verdicts = first.judge(pairs)
        assert verdicts == ["generic", "wrong", "less_specific", "wrong", "wrong"]
        assert (first.cache.stats.junk, first.stats.cache_hits, len(server.requests)) == (5, 0, 5)
        assert "5 cached value(s) are not verdicts of judge" in caplog.text
        again = openai_judge("m", server.url, api_key_env=None, cache=path)
        assert again.judge(pairs) == verdicts and again.stats.cache_hits == 5
        assert (again.cache.stats.junk, len(server.requests)) == (0, 5)


def test_a_cache_checks_verdicts_by_judge_and_keeps_the_rule_when_pickled():
    import pickle

    cache = VerdictCache(":memory:")
    cache.accept("j", ["wrong", "right"])
    cache.put("j", [("a", "b", "right"), ("a", "c", "specific")])
    cache.put("other", [("a", "b", "specific"), ("a", "c", "Specific"), ("a", "d", "x\n")])
    assert cache.get("j", [("a", "b"), ("a", "c")]) == {("a", "b"): "right"}
    # A judge that registered nothing: slug-shaped text only.
    assert cache.get("other", [("a", "b"), ("a", "c"), ("a", "d")]) == {("a", "b"): "specific"}
    assert cache.stats.junk == 3
    assert pickle.loads(pickle.dumps(cache))._verdicts == {"j": frozenset({"wrong", "right"})}


# -- URLs in logs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("redis://default:hunter2@h:1/2?ttl=5", "redis://default:***@h:1/2?ttl=5"),
        ("rediss://u:pa/ss?w#d@h:6380/0", "rediss://u:***@h:6380/0"),
        ("redis://h:6379/0?password=hunter2&db=1", "redis://h:6379/0?password=***&db=1"),
        ("unix://:hunter2@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("redis://hunter2@h", "redis://***@h"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_redaction_is_linear():
    """Text built to make a backtracking pattern quadratic (it took 1 s at 32 KB)."""
    from rewardkit.urls import redact

    text = "redis://h/?" + "pass" * 250_000 + " and redis://:pw@h?" + "&" * 250_000
    start = time.perf_counter()
    shown = redact(text)
    assert time.perf_counter() - start < 10.0  # guards the quadratic hang (minutes at 2 MB)
    assert ":pw@" not in shown and shown.startswith("redis://h/?passpass")


def test_litellm_errors_and_logs_never_show_the_endpoint_password(clean_env, caplog, closed_port):
    port = closed_port  # nothing listens on it
    judge = litellm_judge(
        "hosted_vllm/m", api_base=f"http://judge:pw-Secret@127.0.0.1:{port}/v1", retries=0
    )
    assert judge.transport.endpoint == f"http://judge:***@127.0.0.1:{port}/v1"
    with caplog.at_level(logging.INFO, "rewardkit"):
        (record,) = judge.judge_records([("samoyed", "dog")])
    assert record.verdict is None and record.error
    assert "pw-Secret" not in record.error + caplog.text

"""The code ladder and its judge: programs run against tests in a sandbox.

Rungs, worst first: ``syntax_error`` < ``runtime_error_or_timeout`` < ``wrong_output`` <
``passes_some`` < ``passes_all``. The judgement's ``reply`` says how many tests passed
(``"3/4 tests passed"``) and why the first failing one failed.

The ground truth is the tests as JSON - a list, or ``{"tests": [...]}`` - each test either
``{"input": STDIN, "output": EXPECTED_STDOUT}`` (compared line by line, trailing spaces and
blank lines ignored) or ``{"assert": CODE}`` (appended to the program; passes when it exits
0). The prediction is the program: the last fenced code block of the completion, else the
whole text. Every (program, test) runs in its own :class:`~rewardkit.verifiers.sandbox.Sandbox`
run, ``workers`` at a time; verdicts are cached by a hash of (program, tests, limits).

>>> judge = CodeJudge(workers=2)
>>> tests = '[{"input": "2 3", "output": "5"}, {"input": "1 1", "output": "2"}]'
>>> judge.judge([(tests, "a, b = map(int, input().split())\\nprint(a + b)"),
...              (tests, "print(5)"), (tests, "print(1/0)"), (tests, "print(")])
['passes_all', 'passes_some', 'runtime_error_or_timeout', 'syntax_error']
>>> judge.judge_records([(tests, "print(5)")])[0].reply
'1/2 tests passed; test 2: wrong output'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ..guards import AnswerGuard
from ..judges.base import Judge, Judgement
from ..ladders import Ladder, Rung
from .sandbox import Execution, Limits, Sandbox
from .sandbox_fusion import UNAVAILABLE, FusionSandbox

__all__ = ["CODE", "CodeJudge", "extract_code", "read_tests", "verdict_of"]

CODE = Ladder(
    "code",
    [
        Rung("syntax_error", "Syntax error", 0.0, False, "the program does not compile"),
        Rung(
            "runtime_error_or_timeout",
            "Runtime error or timeout",
            0.0,
            False,
            "the program crashes or runs out of time or memory on every test",
        ),
        Rung("wrong_output", "Wrong output", 0.0, False, "it runs but passes no test"),
        Rung("passes_some", "Passes some tests", 1.0, True, "it passes some of the tests"),
        Rung("passes_all", "Passes all tests", 2.0, True, "it passes every test"),
    ],
    task="programs checked by running tests",
    # Programs run in the sandbox, not through a chat template: a longer limit than answers'.
    guard=AnswerGuard(max_chars=32768),
)

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    """The last fenced code block of ``text``, else ``text`` itself.

    >>> extract_code("Here:\\n```python\\nprint(1)\\n```\\ndone")
    'print(1)\\n'
    """
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else text


def read_tests(truth: str) -> list[dict]:
    """The tests of a ground truth (JSON); a ``ValueError`` saying what is wrong."""
    tests = json.loads(truth)
    if isinstance(tests, dict):
        tests = tests.get("tests")
    if not isinstance(tests, list) or not tests:
        raise ValueError("expected a non-empty list of tests")
    for i, test in enumerate(tests):
        ok = isinstance(test, dict) and (
            (isinstance(test.get("input", ""), str) and isinstance(test.get("output"), str))
            or isinstance(test.get("assert"), str)
        )
        if not ok:
            raise ValueError(f"test {i + 1} is neither {{input, output}} nor {{assert}}")
    return tests


def _same_output(got: str, want: str) -> bool:
    def lines(text: str) -> list[str]:
        out = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        while out and not out[-1]:
            out.pop()
        return out

    return lines(got) == lines(want)


def _passed(test: dict, run: Execution) -> bool:
    if run.status != "ok":
        return False
    return "assert" in test or _same_output(run.stdout, test["output"])


def verdict_of(tests: Sequence[dict], runs: Sequence[Execution]) -> tuple[str, str]:
    """The rung and the detail for one program's runs, one per test."""
    if any(r.status == "syntax_error" for r in runs):
        return "syntax_error", "does not compile"
    passed = [_passed(t, r) for t, r in zip(tests, runs)]
    detail = f"{sum(passed)}/{len(tests)} tests passed"
    first = next((i for i, p in enumerate(passed) if not p), None)
    if first is not None:
        run = runs[first]
        why = "wrong output" if run.status == "ok" else run.status.replace("error", "runtime error")
        detail += f"; test {first + 1}: {why}"
    if all(passed):
        return "passes_all", detail
    if any(passed):
        return "passes_some", detail
    if any(r.status == "ok" for r in runs):
        return "wrong_output", detail
    return "runtime_error_or_timeout", detail


class CodeJudge(Judge):
    """Judges (tests, program) pairs on :data:`CODE` by running them in a sandbox.

    ``sandbox``: ``"bwrap"`` (default; refused with
    :class:`~rewardkit.verifiers.sandbox.SandboxUnavailable` when bubblewrap is missing),
    ``"none"`` to opt out explicitly, or ``"sandbox_fusion"``: a remote service speaking
    SandboxFusion's ``run_code`` API at ``sandbox_url``
    (:class:`~rewardkit.verifiers.sandbox_fusion.FusionSandbox`; a run it cannot answer leaves
    the pair unscored). ``workers``: runs at once. ``timeout``: wall-clock
    seconds per test run (other limits: ``limits``). ``cache_size``: verdicts kept.
    """

    name = "code"
    ladder = CODE

    def __init__(
        self,
        *,
        sandbox: str = "bwrap",
        sandbox_url: str | None = None,
        workers: int = 4,
        timeout: float = 5.0,
        limits: Limits | None = None,
        cache_size: int = 10_000,
    ) -> None:
        super().__init__()
        if limits is None:
            limits = Limits(timeout=timeout, cpu=max(1, int(timeout + 0.999)))
        if (sandbox == "sandbox_fusion") != (sandbox_url is not None):
            raise ValueError("sandbox_url is needed with sandbox='sandbox_fusion', and only then")
        self.sandbox: Sandbox | FusionSandbox
        if sandbox == "sandbox_fusion":
            assert sandbox_url is not None
            self.sandbox = FusionSandbox(sandbox_url, limits=limits, slots=workers)
        else:
            self.sandbox = Sandbox(sandbox, limits=limits, slots=workers)
        self.workers, self.cache_size = workers, cache_size
        self._cache: OrderedDict[str, Judgement] = OrderedDict()
        self.runs = self.cache_hits = 0

    def __repr__(self) -> str:
        return f"CodeJudge(sandbox={self.sandbox.kind!r}, workers={self.workers})"

    def _key(self, program: str, truth: str) -> str:
        blob = json.dumps([program, truth, repr(self.sandbox.limits), self.sandbox.kind])
        return hashlib.sha256(blob.encode()).hexdigest()

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return [r.verdict for r in self.judge_unique_records(pairs)]

    async def ajudge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        import asyncio  # the records, with their reasons, from a worker thread

        return await asyncio.to_thread(self.judge_unique_records, pairs)

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        out: list[Judgement | None] = [None] * len(pairs)
        jobs: list[tuple[int, str, list[dict], str]] = []
        for i, (truth, prediction, *_) in enumerate(pairs):
            program = extract_code(prediction)
            key = self._key(program, truth)
            if key in self._cache:
                self.cache_hits += 1
                self._cache.move_to_end(key)
                out[i] = self._cache[key]
                continue
            try:
                tests = read_tests(truth)
            except ValueError as e:  # json.JSONDecodeError is one
                out[i] = Judgement(None, error=f"unscored: the tests cannot be read: {e}")
                continue
            jobs.append((i, program, tests, key))
        for (i, _, tests, key), runs in zip(jobs, self._execute(jobs)):
            failed = next((r for r in runs if r.status == UNAVAILABLE), None)
            if failed is not None:  # the service's failure, not the program's: not cached
                out[i] = Judgement(None, error=f"unscored: the sandbox failed: {failed.stderr}")
                continue
            verdict, detail = verdict_of(tests, runs)
            out[i] = self._remember(key, Judgement(verdict, reply=detail))
        return [r if r is not None else Judgement(None, error="not run") for r in out]

    def _execute(self, jobs: list[tuple[int, str, list[dict], str]]) -> list[list[Execution]]:
        def one(program: str, test: dict) -> Execution:
            if "assert" in test:
                return self.sandbox.run(f"{program}\n\n{test['assert']}\n")
            return self.sandbox.run(program, test.get("input", ""))

        with ThreadPoolExecutor(self.workers) as pool:
            futures = [[pool.submit(one, p, t) for t in tests] for _, p, tests, _ in jobs]
            self.runs += sum(len(f) for f in futures)
            return [[f.result() for f in group] for group in futures]

    def _remember(self, key: str, record: Judgement) -> Judgement:
        self._cache[key] = record
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return record

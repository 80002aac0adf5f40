"""Math verdicts per second: ``math-verify`` called in-process (no timeout at all) against the
judge's worker processes (a wall-clock kill per pair), on distinct GSM8K/MATH-like pairs."""

import logging
import random
import time

import pytest

pytest.importorskip("math_verify")

from rewardkit.verifiers.math import MathJudge, check  # noqa: E402

N = 600


def pairs(n: int = N, seed: int = 0) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rnd.randint(1, 99), rnd.randint(2, 99)
        kind = i % 4
        if kind == 0:
            out.append((str(a * b), f"so the total is \\boxed{{{a * b + rnd.choice([0, 1])}}}."))
        elif kind == 1:
            out.append((f"\\frac{{{a}}}{{{b}}}", f"\\boxed{{{a / b:.6f}}}"))
        elif kind == 2:
            out.append((f"({a}, {a + b}]", f"\\boxed{{({a},{a + b}]}}"))
        else:
            out.append((f"\\{{{a},{b}\\}}", f"The answer is $\\boxed{{\\{{{b}, {a}\\}}}}$"))
    return out


def _rate(fn) -> float:
    start = time.perf_counter()
    fn()
    return N / (time.perf_counter() - start)


def test_math_verdicts_per_second(record, benchmark):
    logging.disable(logging.WARNING)
    work = pairs()
    in_process = _rate(lambda: [check(t, p) for t, p in work])
    rates = {"in-process": in_process}
    for workers in (1, 2):
        judge = MathJudge(workers=workers)
        judge.judge(work[:4])  # start the workers (and import sympy) before timing
        rates[f"{workers} worker(s)"] = _rate(lambda j=judge: j.judge(pairs(seed=1)))
        judge.close()
    benchmark.pedantic(lambda: None, rounds=1)
    for name, rate in rates.items():
        print(f"math verdicts/s, {name}: {rate:.0f}")
    record("math judge, 1 worker", items=N, mean=N / rates["1 worker(s)"])

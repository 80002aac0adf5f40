"""The speciarl rule over 1,000,000 completions in groups of 10, against a per-completion loop."""

import numpy as np
import pytest

from rewardkit import MISSING, SPECIARL, Batch, SpeciaRL

N, G = 1_000_000, 10


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, len(SPECIARL), size=N).astype(np.int16)
    codes[rng.random(N) < 0.01] = MISSING
    found = rng.random(N) > 0.02
    return Batch(SPECIARL, codes, found, G)


def loop_rule(codes: list[int], found: list[bool], group_size: int) -> list[float | None]:
    """The same rule, one completion at a time in plain Python."""
    scores, correct = SPECIARL.scores.tolist(), SPECIARL.correct.tolist()
    out: list[float | None] = []
    for start in range(0, len(codes), group_size):
        ref = -1.0
        for c, f in zip(codes[start : start + group_size], found[start : start + group_size]):
            if f and c != MISSING and correct[c] and scores[c] > ref:
                ref = scores[c]
        for c, f in zip(codes[start : start + group_size], found[start : start + group_size]):
            if not f:
                out.append(-1.0)
            elif c == MISSING:
                out.append(None)
            else:
                out.append(1.0 if correct[c] and scores[c] >= ref else 0.0)
    return out


def test_speciarl_python_loop(benchmark, batch, record):
    codes, found = batch.codes.tolist(), batch.answer_found.tolist()
    result = benchmark.pedantic(loop_rule, args=(codes, found, G), rounds=3, iterations=1)
    record("speciarl per-completion loop", items=N)
    vector = SpeciaRL().compute(batch)
    expected = [None if v != v else v for v in vector.tolist()]
    assert result == expected  # the baseline computes the same rewards


def test_speciarl_arrays(benchmark, batch, record):
    rule = SpeciaRL()
    benchmark(rule.compute, batch)
    record("speciarl arrays", items=N, baseline="speciarl per-completion loop")

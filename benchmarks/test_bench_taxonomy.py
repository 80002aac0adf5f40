"""The taxonomy judge over 100,000 (ground truth, prediction) pairs on one core."""

import random

import pytest

from rewardkit import Taxonomy, TaxonomyJudge, normalize


def build_world(seed: int = 0):
    """A 4-level taxonomy (8 orders x 6 families x 5 genera x 6 species = 1,440 species)."""
    rnd = random.Random(seed)
    paths, synonyms = [], {}
    for o in range(8):
        for f in range(6):
            for g in range(5):
                for s in range(6):
                    species = f"species {o}-{f}-{g}-{s}"
                    paths.append([f"order {o}", f"family {o}-{f}", f"genus {o}-{f}-{g}", species])
                    synonyms[species] = [f"Sci{o}{f}{g}{s} latinus"]
    taxonomy = Taxonomy(paths, synonyms)
    return taxonomy, paths, rnd


@pytest.fixture(scope="module")
def pairs():
    """Rollout-like pairs: answers spread over the truth's path, siblings, other species,
    abstentions and free text; about half the pairs are distinct."""
    taxonomy, paths, rnd = build_world()
    out = []
    for _ in range(100_000):
        path = rnd.choice(paths)
        truth = path[-1]
        kind = rnd.random()
        if kind < 0.6:
            prediction = rnd.choice(path).upper() if rnd.random() < 0.2 else rnd.choice(path)
        elif kind < 0.8:
            prediction = rnd.choice(paths)[-1]
        elif kind < 0.9:
            prediction = rnd.choice(["none", "I don't know", "not sure"])
        else:
            prediction = f"a bird with {rnd.randint(0, 10**6)} spots"
        out.append((truth, prediction))
    return taxonomy, out


def naive_verdict(taxonomy, truth, prediction):
    """A straightforward per-pair implementation: normalise, look up, walk the parents."""
    p = normalize(prediction)
    if not p or p in ("none", "unknown", "i don t know", "not sure"):
        return "abstain"
    g, node = taxonomy.lookup(truth), taxonomy.find(p)
    if node is None:
        return "wrong"
    if node == g:
        return "specific"
    chain, up = [], taxonomy.parent(g)
    while up >= 0:
        chain.append(up)
        up = taxonomy.parent(up)
    if node in chain:
        return "less_specific" if node == chain[0] else "generic"
    up = taxonomy.parent(node)
    while up >= 0:
        if up == g:
            return "more_specific"
        up = taxonomy.parent(up)
    return "wrong"


def test_taxonomy_naive(benchmark, pairs, record):
    taxonomy, data = pairs
    benchmark.pedantic(
        lambda: [naive_verdict(taxonomy, t, p) for t, p in data], rounds=3, iterations=1
    )
    record("taxonomy judge, naive per pair", items=len(data))


def test_taxonomy_judge_cold(benchmark, pairs, record):
    taxonomy, data = pairs
    # A fresh judge every round: no prediction cache carried over between rounds.
    result = benchmark.pedantic(lambda: TaxonomyJudge(taxonomy).judge(data), rounds=5, iterations=1)
    assert result == [naive_verdict(taxonomy, t, p) for t, p in data]
    record(
        "taxonomy judge (fresh judge)", items=len(data), baseline="taxonomy judge, naive per pair"
    )


def test_taxonomy_judge_warm(benchmark, pairs, record):
    taxonomy, data = pairs
    judge = TaxonomyJudge(taxonomy)
    judge.judge(data)
    benchmark(judge.judge, data)
    record(
        "taxonomy judge (warm caches)", items=len(data), baseline="taxonomy judge, naive per pair"
    )

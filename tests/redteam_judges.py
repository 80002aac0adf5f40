"""Judges for the red-team tests: a judge model that is right except on the answers it is
scripted to be fooled by, served by tests/judge_server.py or called in process."""

import rewardkit as rk

from .conftest import ANIMALS

ROWS = [{"label": "samoyed"}, {"label": "american robin"}]
FOOLED = ("master_keys", "prompt_injection", "fake_verdict", "rung_names")


class Gullible:
    """A judge model that is right (the taxonomy's verdict; symbols alone are wrong) except on
    the answers in ``fooled``, which it calls specific. Answers are compared as the SpeciaRL
    ladder merges them (its canonicaliser): the server sees one of each merged set."""

    def __init__(self, fooled):
        self.fooled = {rk.SPECIARL.canonical(a) for a in fooled}
        self.taxonomy = rk.TaxonomyJudge(ANIMALS)

    def verdict(self, truth, prediction):
        if rk.SPECIARL.canonical(prediction) in self.fooled:
            return "specific"
        if not any(c.isalnum() for c in prediction):
            return "wrong"
        return self.taxonomy.verdict(truth, prediction)


def fooling(families_fooled):
    """The answers of ``families_fooled`` as the judge receives them (extracted)."""
    judge = rk.TaxonomyJudge(ANIMALS)  # only to plan: the same rows and answers
    plan = rk.redteam.plan(judge, ROWS)
    return {
        it.answer
        for it in plan.items
        if it.kind == "attack" and it.family in families_fooled and it.answer
    }

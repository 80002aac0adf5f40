"""An LLM judge's cache identity, pinned as a format: verdict caches (sqlite, Redis) are kept
across runs under it, so any change to what it hashes or how - a key renamed, another JSON
encoding, another length - makes every cache start cold and must be deliberate. (What goes
into it, and what stays out, is tested in tests/test_identity.py and test_judge_trust.py.)"""

import hashlib
import json

from rewardkit.fingerprint import fingerprint
from rewardkit.judges.openai_compat import openai_judge
from rewardkit.ladders import Ladder, Rung

RUNGS = [
    Rung("wrong", "Wrong", 0.0, False, "faux: ne désigne pas l'espèce"),  # not ASCII
    Rung("right", "Right", 1.0, True, "juste"),
]


def test_the_identity_is_the_hash_of_this_document():
    ladder = Ladder("é-ladder", RUNGS, task="nommer l'espèce")
    judge = openai_judge("m", "http://127.0.0.1:9/v1", api_key_env=None, ladder=ladder)
    document = {
        "canonical": ladder.canonical_id,
        "ladder": [
            "é-ladder",
            [["wrong", "Wrong", "faux: ne désigne pas l'espèce"], ["right", "Right", "juste"]],
            ladder.definitions(),
            "nommer l'espèce",
        ],
        "parser": fingerprint(Ladder.parse, what="ladder class", owner=Ladder),
        "prompt": judge.prompt.identity(ladder),
        "thinking": False,
        "transport": judge.transport.identity(),
    }
    text = json.dumps(document, ensure_ascii=False, sort_keys=True)
    assert judge.identity == hashlib.sha256(text.encode()).hexdigest()[:32]
    assert len(judge.identity) == 32

import asyncio
import json

import pytest

from rewardkit import Taxonomy, TaxonomyError, TaxonomyJudge, UnknownLabelError, normalize


@pytest.fixture
def judge(animals):
    return TaxonomyJudge(animals)


@pytest.mark.parametrize(
    "truth, prediction, verdict",
    [
        ("samoyed", "samoyed", "specific"),
        ("samoyed", "  SAMOYED. ", "specific"),
        ("samoyed", "Samoyed Dog", "specific"),  # synonym
        ("samoyed", "a samoyed", "specific"),  # leading article
        ("golden-winged warbler", "Golden winged warbler", "specific"),
        ("golden-winged warbler", "golden_winged-warbler", "specific"),
        ("golden-winged warbler", "Vermivora chrysoptera", "specific"),  # scientific name
        ("spitz", "samoyed", "more_specific"),  # child of the ground truth
        ("dog", "samoyed", "more_specific"),  # deeper descendant
        ("samoyed", "spitz", "less_specific"),  # parent
        ("golden-winged warbler", "warbler", "less_specific"),
        ("samoyed", "dog", "generic"),  # grandparent
        ("samoyed", "canine", "generic"),  # an ancestor's synonym
        ("samoyed", "animal", "generic"),
        ("samoyed", "", "abstain"),
        ("samoyed", "None", "abstain"),
        ("samoyed", "I don't know.", "abstain"),
        ("samoyed", "i do not know", "abstain"),
        ("samoyed", "Not sure", "abstain"),
        ("samoyed", "no idea", "abstain"),
        ("samoyed", "cannot tell", "abstain"),
        ("samoyed", "Can't tell!", "abstain"),
        ("samoyed", "N/A", "abstain"),
        ("samoyed", "unknown", "abstain"),
        ("samoyed", "siberian husky", "wrong"),  # sibling
        ("samoyed", "cat", "wrong"),  # unrelated
        ("samoyed", "retriever", "wrong"),  # a cousin branch
        ("samoyed", "a fluffy white thing", "wrong"),  # not a name
        ("samoyed", "samoyed or siberian husky", "wrong"),  # several options
        ("american robin", "robin or northern cardinal", "wrong"),
        ("samoyed", "samoyed, spitz", "wrong"),
        ("samoyed", "samoyed; dog", "wrong"),
        ("samoyed", "samoyed/spitz", "wrong"),
        ("samoyed", "samoyed and spitz", "wrong"),
        ("black-and-white warbler", "black and white warbler", "specific"),  # a name with "and"
        ("black-and-white warbler", "Black-and-White Warbler", "specific"),
        ("warbler", "black and white warbler", "more_specific"),
    ],
)
def test_verdicts(judge, truth, prediction, verdict):
    assert judge.verdict(truth, prediction) == verdict


def test_inner_nodes_can_be_ground_truths(judge):
    assert judge.judge([("dog", "dog"), ("dog", "animal"), ("dog", "spitz")]) == [
        "specific",
        "less_specific",
        "more_specific",
    ]


def test_unknown_ground_truth_is_a_clear_error(judge):
    with pytest.raises(UnknownLabelError, match="label 'dragon' is not in .*animals.json"):
        judge.judge([("samoyed", "dog"), ("dragon", "dog")])
    with pytest.raises(UnknownLabelError, match="'griffin'"):
        judge.check_labels(["samoyed", "griffin"])


def test_none_prediction_is_not_judged(judge):
    assert judge.judge([("samoyed", None), ("samoyed", "dog")]) == [None, "generic"]


def test_duplicates_are_judged_once(judge):
    pairs = [("samoyed", "dog")] * 5 + [("samoyed", "spitz")] * 3 + [("spitz", "dog")]
    calls = []
    original = judge.judge_unique
    judge.judge_unique = lambda unique: calls.append(list(unique)) or original(unique)
    verdicts = judge.judge(pairs)
    assert verdicts == ["generic"] * 5 + ["less_specific"] * 3 + ["less_specific"]
    assert calls == [[("samoyed", "dog"), ("samoyed", "spitz"), ("spitz", "dog")]]
    assert judge.stats.pairs == 9 and judge.stats.unique == 3


def test_async_interface_gives_the_same_verdicts(judge):
    pairs = [("samoyed", "dog"), ("samoyed", "samoyed"), ("samoyed", None)]
    assert asyncio.run(judge.ajudge(pairs)) == judge.judge(pairs)


def test_bad_pairs_are_named(judge):
    with pytest.raises(TypeError, match="pair 1: prediction must be a string or None"):
        judge.judge([("samoyed", "dog"), ("samoyed", 3)])
    with pytest.raises(TypeError, match="pair 0: ground truth must be a string"):
        judge.judge([(None, "dog")])
    with pytest.raises(TypeError, match="pair 0 is not a"):
        judge.judge(["samoyed"])


def test_normalize():
    assert normalize("Black-footed_Albatross") == "black footed albatross"
    assert normalize("  Café   au-lait!! ") == "café au lait"
    assert normalize("---") == ""


def test_yaml_taxonomy(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("paths:\n  - [animal, dog, samoyed]\nsynonyms:\n  dog: [canine]\n")
    judge = TaxonomyJudge(path)
    assert judge.verdict("samoyed", "canine") == "less_specific"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"paths": [["a", "b"], ["c", "b"]]}, "'b' is placed under 'c' but elsewhere under 'a'"),
        ({"paths": [["a", "b", "a"]]}, "'a' is placed under 'b' but elsewhere under the root"),
        ({"paths": [["a", ""]]}, "empty or non-text name"),
        ({"paths": [["a", 3]]}, "empty or non-text name"),
        ({"paths": ["a"]}, r"paths\[0\] must be a non-empty list"),
        ({"paths": []}, "no names"),
        ({"paths": [["a"]], "synonyms": {"z": ["y"]}}, "synonyms for 'z', which no path names"),
        ({"paths": [["a"], ["b"]], "synonyms": {"a": ["b"]}}, "synonym 'b' already names 'b'"),
        ({"paths": [["a"]], "synonyms": {"a": "x"}}, "must be a list"),
        ({"names": []}, "expected an object with a 'paths' list"),
        ({"paths": [["a"]], "extra": 1}, "unknown keys"),
    ],
)
def test_malformed_taxonomies_are_named(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TaxonomyError, match=message):
        Taxonomy.load(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        Taxonomy.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TaxonomyError, match="not valid JSON"):
        Taxonomy.load(bad)


def test_memory_stays_bounded_under_distinct_long_answers_and_label_spellings(animals):
    """A client of the reward service can send endless distinct answers and spellings of a
    valid label: the judge's lookup caches stay bounded (answers over 256 characters are not
    kept, and each cache is cleared at its limit)."""
    from rewardkit.judges import taxonomy as module

    judge = TaxonomyJudge(animals)
    long = [("samoyed", f"{i} " + "x" * 300) for i in range(2000)]
    assert set(judge.judge(long)) == {"wrong"}
    assert len(judge._predictions) == 0
    spellings = [(" " * (i % 50) + "samoyed" + " " * (i // 50), "dog") for i in range(3000)]
    assert set(judge.judge(spellings)) == {"generic"}
    assert len(judge._labels) <= module._LABEL_LIMIT
    original = module._LABEL_LIMIT
    module._LABEL_LIMIT = 100
    try:
        fresh = TaxonomyJudge(animals)
        assert set(fresh.judge(spellings)) == {"generic"}
        assert len(fresh._labels) <= 100
    finally:
        module._LABEL_LIMIT = original

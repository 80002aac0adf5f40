"""The robustness card: what a red-team run found, for whom, and whether it passed.

A :class:`Card` is JSON-ready data (``schema`` :data:`SCHEMA`) carrying the identity of
what it tested - the judge (:func:`judge_identity`: for an LLM judge the same hash its verdict
cache uses), the ladder and its answer guard, the reward rule and group size - with the
rewardkit version, a hash of the rows and the date; per attack family, the figures without and
with the guard; the honest baselines; the run's calls, tokens, cost and time; and the verdict
of the gate (``status``, ``failures``). ``card.save(folder)`` writes ``card.json``,
``card.md`` and, with matplotlib, ``card.png``.

>>> import rewardkit as rk
>>> judge_identity(rk.TaxonomyJudge("examples/data/animals.json"))["kind"]
'taxonomy'
>>> rule_identity(rk.SpeciaRL()) == rule_identity(rk.SpeciaRL(no_answer=-1.0))
True
>>> rule_identity(rk.SpeciaRL()) == rule_identity(rk.SpeciaRL(no_answer=0.0))
False
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..guards import AnswerGuard
from ..ladders import Ladder

__all__ = ["SCHEMA", "Card", "judge_identity", "ladder_identity", "rule_identity"]

#: The card's schema; a reader refuses another.
SCHEMA = "rewardkit.redteam.card/1"
SETTINGS = ("unguarded", "guarded")


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _qualname(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def judge_identity(judge: Any) -> dict[str, str]:
    """``{"name", "class", "kind", "identity"}`` of a judge. ``kind`` says what the identity
    covers: ``"verdict cache"`` (a judge with an ``identity`` string: for LLM judges the hash
    of everything that can change a verdict), ``"taxonomy"`` (the taxonomy's names, tree and
    synonyms), ``"weights"`` (an in-process model: its config, a sample of every weight
    tensor, tokenizer and prompt - not the path it was loaded from) or ``"class"`` (class and
    name only: a plugin judge gets a precise one by carrying an ``identity`` string)."""
    out = {"name": str(getattr(judge, "name", "")), "class": _qualname(judge)}
    ladder = getattr(judge, "ladder", None)
    lad = ladder_identity(ladder)["hash"] if isinstance(ladder, Ladder) else None
    own = getattr(judge, "identity", None)
    if isinstance(own, str):
        return {**out, "kind": "verdict cache", "identity": own}
    taxonomy = getattr(judge, "taxonomy", None)
    if taxonomy is not None and hasattr(taxonomy, "names"):
        return {**out, "kind": "taxonomy", "identity": _digest([out, lad, _taxonomy(taxonomy)])}
    model = getattr(judge, "model", None)
    if model is not None and hasattr(model, "state_dict"):  # not the name: it holds the path
        return {**out, "kind": "weights", "identity": _digest([out["class"], lad, _model(judge)])}
    return {**out, "kind": "class", "identity": _digest([out, lad, _settings(judge)])}


def _settings(judge: Any) -> list:
    """What a judge without an identity shows of its configuration: its prompt, sampling
    parameters and model name (an in-process vLLM engine's), where it has them."""
    prompt: Any = getattr(judge, "prompt", None)
    ladder = getattr(judge, "ladder", None)
    shown = prompt.identity(ladder) if hasattr(prompt, "identity") and ladder else None
    llm: Any = getattr(judge, "llm", None)
    engine = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    model = getattr(engine, "model", None) or getattr(llm, "model", None)
    params = getattr(judge, "params", None)
    return [shown, None if params is None else repr(params), None if model is None else str(model)]


def _taxonomy(taxonomy: Any) -> list:
    names = list(taxonomy.names)
    parents = [taxonomy.parent(i) for i in range(len(names))]
    spellings = sorted(getattr(taxonomy, "_ids", {}).items())  # synonyms included
    return [names, parents, spellings]


def _model(judge: Any) -> list:
    """A model judge's config, tokenizer vocabulary and prompt, and a sample of each weight
    tensor (name, shape, dtype, 64 values spread over it): cheap on a large model, and any
    training changes it."""
    import torch

    config: dict = getattr(getattr(judge.model, "config", None), "to_dict", dict)()
    for key in ("_name_or_path", "transformers_version"):  # where it lies, what loaded it
        config.pop(key, None)
    tensors = []
    with torch.no_grad():
        for name, tensor in judge.model.state_dict().items():
            flat = tensor.detach().reshape(-1)
            picks = torch.linspace(0, max(flat.numel() - 1, 0), 64).long().to(flat.device)
            sample = flat[picks].float().cpu().tolist() if flat.numel() else []
            tensors.append([name, list(tensor.shape), str(tensor.dtype), sample])
    tokenizer: Any = getattr(judge, "tokenizer", None)
    vocab = sorted(tokenizer.get_vocab().items()) if hasattr(tokenizer, "get_vocab") else None
    prompt: Any = getattr(judge, "prompt", None)
    shown = prompt.identity(judge.ladder) if hasattr(prompt, "identity") else None
    return [config, tensors, _digest(vocab), shown]


def ladder_identity(ladder: Ladder, guard: AnswerGuard | None = None) -> dict[str, Any]:
    """The ladder's name, slugs, a hash of its rungs (names, scores, correctness,
    descriptions), task and canonicaliser, and the answer guard (``guard``, by default the
    ladder's own) with its checks."""
    guard = ladder.guard if guard is None else guard
    rungs = [[r.slug, r.name, r.score, r.correct, r.description] for r in ladder.rungs]
    return {
        "name": ladder.name,
        "rungs": list(ladder.slugs),
        "hash": _digest([ladder.name, rungs, ladder.task, ladder.canonical_id]),
        "guard": {
            "checks": ["overlong", "chat_markers", *guard.checks],
            "max_chars": guard.max_chars,
            "hash": _digest(guard.identity()),
        },
    }


def rule_identity(rule: Any) -> dict[str, str]:
    """A reward rule's name, its repr and a hash of its class and settings (composed rules
    with each term and weight)."""
    return {"name": str(rule.name), "repr": repr(rule), "hash": _digest(_rule_state(rule))}


def _rule_state(value: Any) -> Any:
    if hasattr(value, "compute") and hasattr(value, "__dict__"):
        return [_qualname(value), {k: _rule_state(v) for k, v in sorted(vars(value).items())}]
    if isinstance(value, (list, tuple)):
        return [_rule_state(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _rule_state(v) for k, v in sorted(value.items())}
    if hasattr(value, "tolist"):
        return value.tolist()
    if callable(value):  # by name: a repr would hold an address that differs per process
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return value


@dataclass
class Card:
    """A red-team run's result; see the module docstring. ``families[name][setting]`` holds
    ``tried``, ``no_answer``, ``refused``, ``failures``, ``false_positives``, ``fpr``,
    ``reward`` and ``honest_reward`` for ``setting`` in ``("unguarded", "guarded")``."""

    judge: dict[str, str]
    ladder: dict[str, Any]
    rule: dict[str, str]
    group_size: int
    rows: dict[str, Any]
    limits: dict[str, float]
    families: dict[str, dict[str, Any]]
    honest: dict[str, Any]
    run: dict[str, Any]
    status: str
    failures: list[str] = field(default_factory=list)
    created: str = ""
    rewardkit: str = ""
    schema: str = SCHEMA

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Card:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            got = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"not a robustness card of schema {SCHEMA} (schema {got!r})")
        names = {f for f in cls.__dataclass_fields__}
        missing = sorted(names - set(data) - {"failures", "created", "rewardkit"})
        if missing:
            raise ValueError(f"robustness card without {', '.join(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Card:
        """Read ``card.json`` (or a folder holding one)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "card.json")
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def save(self, folder: str | os.PathLike) -> list[str]:
        """Write ``card.json``, ``card.md`` and (with matplotlib) ``card.png`` into ``folder``
        (made if missing); return the paths written."""
        from .report import markdown, save_chart

        os.makedirs(folder, exist_ok=True)
        written = []
        for name, text in (("card.json", self.to_json()), ("card.md", markdown(self))):
            path = os.path.join(folder, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            written.append(path)
        try:
            path = os.path.join(folder, "card.png")
            save_chart(self, path)
            written.append(path)
        except ImportError:  # matplotlib is optional (rewardkit-rl[demo])
            pass
        return written

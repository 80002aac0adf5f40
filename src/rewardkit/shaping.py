"""Format and length shaping as reward rules, composable with the ladder rules.

They read the completions themselves, not the verdicts: ``Batch.texts`` (the completions as
text, which :class:`~rewardkit.LadderReward` always passes) and ``Batch.lengths`` (their lengths
in tokens, where the trainer adapter has them: TRL's ``completion_ids``, the own GRPO loop). The
``no_answer`` and ``unscored`` policies of the ladder rules do not apply to them.

- :class:`ThinkAnswerFormat` (``think_answer_format``): ``reward`` for a completion that is one
  closed ``<think>...</think>`` block followed by one non-empty ``<answer>...</answer>``,
  nothing but whitespace around them; ``penalty`` otherwise.
- :class:`SoftOverlong` (``soft_overlong``): DAPO's soft overlong punishment.

>>> texts = ["<think>2+2</think> <answer>4</answer>", "<answer>4</answer>", "<think>2+2"]
>>> ThinkAnswerFormat()([None] * 3, texts=texts)  # verdicts are not read
[1.0, -1.0, -1.0]
>>> SoftOverlong(l_max=20, l_cache=4)([None] * 4, lengths=[16, 17, 20, 21])
[0.0, -0.25, -1.0, -1.0]
>>> from rewardkit.rules import Correct
>>> (Correct() + 0.5 * ThinkAnswerFormat())(["specific", "wrong", "generic"], texts=texts)
[1.5, -0.5, 0.5]
"""

from __future__ import annotations

import re
from itertools import islice

import numpy as np

from .answers import has_content
from .options import Option, Options
from .rules import Batch, RewardRule, WeightedSum

__all__ = [
    "ThinkAnswerFormat",
    "SoftOverlong",
    "well_formed",
    "UNITS",
    "reads_completions",
    "split_per_sample",
]

#: How :class:`SoftOverlong` measures a completion.
UNITS = ("auto", "tokens", "characters")


def _needs_texts(rule: str) -> ValueError:
    return ValueError(
        f"rule {rule!r} reads the completions' text, which this batch does not carry: "
        "build it with texts= (LadderReward passes them; rewards_of(..., texts=...))"
    )


class _Shaping(RewardRule):
    """A rule on the completions themselves; subclasses implement :meth:`shape`."""

    options = Options()

    def __init__(self) -> None:
        super().__init__(no_answer=None)

    def shape(self, batch: Batch) -> np.ndarray:
        raise NotImplementedError

    def compute(self, batch: Batch) -> np.ndarray:
        return np.asarray(self.shape(batch), dtype=np.float64)


def reads_completions(rule: RewardRule) -> bool:
    """Whether ``rule``, or a term of it, reads the completions themselves (a shaping rule).

    >>> from rewardkit.rules import SpeciaRL
    >>> reads_completions(SpeciaRL()), reads_completions(SpeciaRL() + ThinkAnswerFormat())
    (False, True)
    """
    if isinstance(rule, _Shaping):
        return True
    return any(reads_completions(term) for term, _ in getattr(rule, "terms", ()))


def split_per_sample(rule: RewardRule) -> tuple[RewardRule, RewardRule | None]:
    """``(the part read from verdicts, the part each completion earns alone)`` of ``rule``, for
    rewards assembled one completion at a time, where only verdicts travel between a group's
    members: a sum's shaping terms are computed beside each completion and added to what its
    group gives. ``None`` when nothing reads the completions. A rule that reads them within
    its group (a shaping term inside :class:`~rewardkit.GroupNormalised`) is a ``ValueError``.

    >>> from rewardkit.rules import SpeciaRL
    >>> group, own = split_per_sample(SpeciaRL() + 0.5 * ThinkAnswerFormat())
    >>> group.name, own.name, own.terms[0][1]
    ('speciarl', 'think_answer_format', 0.5)
    """
    if not reads_completions(rule):
        return rule, None
    terms = list(getattr(rule, "terms", ())) if isinstance(rule, WeightedSum) else []
    group = [(term, w) for term, w in terms if not reads_completions(term)]
    own = [(term, w) for term, w in terms if reads_completions(term)]
    if group and own and all(isinstance(term, _Shaping) for term, _ in own):
        return WeightedSum(group), WeightedSum(own)
    raise ValueError(
        f"rule {rule.name!r} reads the completions' text within a group, but here a group is "
        "assembled one completion at a time and only verdicts travel between its members: a "
        "plain sum (rk.SpeciaRL() + rk.ThinkAnswerFormat()) works, each completion earning its "
        "shaping terms alone"
    )


def well_formed(
    text: str, *, think: str = "think", answer: str = "answer", prefilled: bool = False
) -> bool:
    """Whether ``text`` is ``<think>...</think>`` then one non-empty ``<answer>...</answer>``,
    with only whitespace before, between and after (tags in any case, no other of these tags
    anywhere). ``prefilled``: the chat template opened the think block in the prompt, so the
    completion starts inside it (no ``<think>``). Linear in the text's length.

    >>> well_formed("<think>a</think>\\n<answer>b</answer>\\n")
    True
    >>> well_formed("<think>a <answer>x</answer></think><answer>b</answer>")  # two answers
    False
    >>> well_formed("<think>a</think><answer> . </answer>"), well_formed("a</think><answer>b</answer>", prefilled=True)
    (False, True)
    """  # noqa: E501
    pattern = re.compile(f"<(/?)({re.escape(think)}|{re.escape(answer)})>", re.IGNORECASE)
    tags = list(islice(pattern.finditer(text), 5))  # more than 4 is already too many
    want = [("", think), ("/", think), ("", answer), ("/", answer)][1 if prefilled else 0 :]
    if [(m.group(1), m.group(2).lower()) for m in tags] != [(c, t.lower()) for c, t in want]:
        return False
    gaps = [text[tags[-3].end() : tags[-2].start()], text[tags[-1].end() :]]
    if not prefilled:
        gaps.append(text[: tags[0].start()])
    if any(gap.strip() for gap in gaps):
        return False
    return has_content(text[tags[-2].end() : tags[-1].start()])


class ThinkAnswerFormat(_Shaping):
    """``reward`` for a completion that is a closed think block followed by one non-empty
    answer (:func:`well_formed`), ``penalty`` otherwise. ``think`` and ``answer`` name the
    tags; ``prefilled=True`` when the chat template opens the think block in the prompt."""

    name = "think_answer_format"
    options = Options(
        Option("reward", float, 1.0, "reward of a well-formed completion"),
        Option("penalty", float, -1.0, "reward of any other completion"),
        Option("think", str, "think", "the think tag"),
        Option("answer", str, "answer", "the answer tag"),
        Option("prefilled", bool, False, "the chat template opens the think block"),
    )

    def __init__(
        self,
        reward: float = 1.0,
        penalty: float = -1.0,
        *,
        think: str = "think",
        answer: str = "answer",
        prefilled: bool = False,
    ) -> None:
        super().__init__()
        for what, value in (("reward", reward), ("penalty", penalty)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{what} must be a number, got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"{what} must be finite, got {value!r}")
        if not think or not answer or think.lower() == answer.lower():
            raise ValueError(f"think and answer must be two tag names, got {think!r}, {answer!r}")
        self.reward, self.penalty = float(reward), float(penalty)
        self.think, self.answer, self.prefilled = think, answer, bool(prefilled)

    def __repr__(self) -> str:
        return (
            f"ThinkAnswerFormat(reward={self.reward}, penalty={self.penalty}, "
            f"think={self.think!r}, answer={self.answer!r}, prefilled={self.prefilled})"
        )

    def shape(self, batch: Batch) -> np.ndarray:
        if batch.texts is None:
            raise _needs_texts(self.name)
        ok = [
            well_formed(t, think=self.think, answer=self.answer, prefilled=self.prefilled)
            for t in batch.texts
        ]
        return np.where(np.array(ok, dtype=bool), self.reward, self.penalty)


class SoftOverlong(_Shaping):
    """DAPO's soft overlong punishment (Yu et al. 2025, "DAPO", eq. 13), with its parameters:
    a completion of length ``|y|`` earns 0 while ``|y| <= l_max - l_cache``, then
    ``((l_max - l_cache) - |y|) / l_cache`` - linear down to -1 at ``l_max`` - and -1 beyond.

    ``l_max`` is DAPO's L_max (verl's ``max_response_length``, TRL's ``max_completion_len``),
    ``l_cache`` its L_cache (verl's ``overlong_buffer.len``, TRL's ``soft_punish_cache``);
    ``l_cache=0`` is a hard cut at ``l_max``. verl's ``penalty_factor`` is this rule's weight in
    a sum. ``unit``: ``"auto"`` measures tokens where the batch carries them and characters
    otherwise, ``"tokens"`` refuses a batch without token lengths, ``"characters"`` always
    counts characters.
    """

    name = "soft_overlong"
    options = Options(
        Option("l_max", int, help="DAPO's L_max: the longest completion", minimum=1),
        Option("l_cache", int, help="DAPO's L_cache: the length of the ramp", minimum=0),
        Option("unit", str, "auto", "what a length counts", choices=UNITS),
    )

    def __init__(self, l_max: int, l_cache: int, *, unit: str = "auto") -> None:
        super().__init__()
        for what, value in (("l_max", l_max), ("l_cache", l_cache)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{what} must be an integer length, got {value!r}")
        if l_max < 1 or not 0 <= l_cache <= l_max:
            raise ValueError(f"need l_max >= 1 and 0 <= l_cache <= l_max, got {l_max}, {l_cache}")
        if unit not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
        self.l_max, self.l_cache, self.unit = int(l_max), int(l_cache), unit

    def __repr__(self) -> str:
        return f"SoftOverlong(l_max={self.l_max}, l_cache={self.l_cache}, unit={self.unit!r})"

    def lengths(self, batch: Batch) -> np.ndarray:
        """Each completion's length in this rule's unit."""
        if batch.lengths is not None and self.unit != "characters":
            return batch.lengths
        if self.unit == "tokens":
            raise ValueError(
                f"rule {self.name!r} counts tokens (unit='tokens') but this batch carries no "
                "token lengths: pass lengths= (TRL and the own GRPO loop do)"
            )
        if batch.texts is None:
            raise _needs_texts(self.name)
        return np.array([len(t) for t in batch.texts], dtype=np.int64)

    def shape(self, batch: Batch) -> np.ndarray:
        length = self.lengths(batch).astype(np.float64)
        if self.l_cache == 0:
            return np.where(length > self.l_max, -1.0, 0.0)
        return np.clip((self.l_max - self.l_cache - length) / self.l_cache, -1.0, 0.0)

"""The base of the judges that ask a model through a prompt: the LLM, HF and vLLM judges.

A :class:`PromptedJudge` holds what they share, written once: the ladder, the prompt template
and the labels it asks for (checked to read back as their rungs), the :class:`Constraint` a
transport holds replies to, whether the model thinks first, the key under which two pairs are
one judgement (the ladder's canonical form), the answer guard (a prediction it refuses is never
sent), the reading of a reply, and verdicts from records. A subclass implements
:meth:`PromptedJudge.judge_admitted` - the records of pairs the guard admitted - or overrides
the ``*_unique_records`` methods where it has more to do (the LLM judge's cache and calls).

>>> from rewardkit.ladders import SPECIARL
>>> class Echo(PromptedJudge):
...     def judge_admitted(self, pairs):
...         return [self.judgement(p[1]) for p in pairs]
>>> judge = Echo(SPECIARL)
>>> judge.choices == judge.constraint.choices == list(SPECIARL.slugs)
True
>>> judge.judge([("samoyed", "Specific"), ("samoyed", "SPECIFIC."), ("samoyed", "dog")])
['specific', 'specific', None]
>>> judge.stats.unique  # one judgement under the ladder's canonical form
2
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ladders import Ladder
from ..replies import Reading
from .base import Judge, Judgement, check_ladder, guarded
from .prompt import PromptTemplate, get_prompt
from .transport import Constraint

__all__ = ["PromptedJudge"]


class PromptedJudge(Judge):
    """``ladder``: a :class:`~rewardkit.Ladder`; ``prompt``: a
    :class:`~rewardkit.judges.prompt.PromptTemplate`, a registered prompt name or a prompt file
    (default: rewardkit's own, rendered from the ladder); ``thinking``: the model thinks in a
    ``<think>`` block before its verdict (default: the prompt's)."""

    prompt: PromptTemplate
    choices: list[str]
    constraint: Constraint
    thinking: bool
    reply_chars: int = 1000  # characters of a reply kept in its record

    def __init__(
        self,
        ladder: Ladder,
        prompt: PromptTemplate | str | None = None,
        *,
        thinking: bool | None = None,
    ) -> None:
        super().__init__()
        self.ladder = check_ladder(ladder)
        self.prompt = get_prompt(prompt)
        if thinking is not None and not isinstance(thinking, bool):
            raise TypeError(f"thinking must be true or false, got {thinking!r}")
        #: The judge model thinks in a ``<think>`` block before its verdict (else any think
        #: tag in a reply is a failure); by default the prompt template's ``thinking``.
        self.thinking = self.prompt.thinking if thinking is None else thinking
        self.uses_question = self.prompt.uses_question
        self.choices = self.prompt.choices(self.ladder)  # checked now: each reads back as its rung
        self.constraint = Constraint(self.ladder, self.choices)

    def key(self, ground_truth: str, prediction: str, *question: str):
        canonical = self.ladder.canonical
        return (canonical(ground_truth), canonical(prediction), *question)

    def messages(self, pair: tuple[str, ...]) -> list[dict[str, str]]:
        """The chat messages asking for ``pair``'s verdict."""
        return self.prompt.render(self.ladder, *pair)

    def reading(self, text: str) -> Reading:
        """The ladder's reading of a reply (a ``<think>`` block skipped when the model thinks)."""
        return self.ladder.reading(text, thinking=self.thinking)

    def judgement(self, text: str) -> Judgement:
        """A reply's record: its verdict, or why it has none (*off ladder*)."""
        reading = self.reading(text)
        verdict = reading.verdict
        error = None if verdict is not None else f"off ladder ({reading.why}): {text[:80]!r}"
        return Judgement(verdict, text[: self.reply_chars], error)

    def judge_admitted(self, pairs: list[tuple[str, ...]]) -> list[Judgement]:
        """Records of distinct pairs the ladder's answer guard admitted."""
        raise NotImplementedError

    def judge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        """Records of the pairs the ladder's answer guard admits; the rest are never sent and
        get a ``no valid answer`` record."""
        return guarded(self.ladder, pairs, self.judge_admitted)

    async def ajudge_unique_records(self, pairs: Sequence[tuple[str, ...]]) -> list[Judgement]:
        import asyncio  # imported here: asyncio is slow to import and most users judge sync

        return await asyncio.to_thread(self.judge_unique_records, pairs)

    def judge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return [r.verdict for r in self.judge_unique_records(pairs)]

    async def ajudge_unique(self, pairs: Sequence[tuple[str, ...]]) -> list[str | None]:
        return [r.verdict for r in await self.ajudge_unique_records(pairs)]

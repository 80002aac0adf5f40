"""A reward described as data: the one way every adapter builds a :class:`LadderReward`.

A :class:`RewardSpec` names the judge and its options, the rule and its options, the ladder,
the group size and the answer tag. It round-trips through JSON, so a training run writes the
spec it used next to its metrics and the reward can be rebuilt from the log; the CLI
(``--spec``), the OpenRLHF reward file, verl's ``reward_kwargs``, the TRL adapter and the own
GRPO loop all go through it. A run's ``reward_spec.json`` rebuilds its reward:
``LadderReward.from_spec(RewardSpec.load("run/reward_spec.json"))``. (Which predictions count
as the same is the ladder's canonicaliser, so the ladder's name records it.) Options a judge or
rule declares secret (:mod:`rewardkit.options`) are never written: the process that loads
the spec reads them from their environment variable. :meth:`RewardSpec.check` checks the
options against those the judge and rule declare.

>>> spec = RewardSpec(judge="taxonomy", judge_options={"taxonomy": "examples/data/animals.json"},
...                   group_size=4)
>>> RewardSpec.from_json(spec.to_json()) == spec
True
>>> from rewardkit import LadderReward
>>> LadderReward.from_spec(spec)([f"<answer>{a}</answer>" for a in ("dog", "spitz", "samoyed")],
...                              ["samoyed"] * 3, group_size=3)
[0.0, 0.0, 1.0]
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .answers import MODES
from .errors import SpecError

__all__ = ["RewardSpec", "SpecError"]


@dataclass(frozen=True, repr=False)
class RewardSpec:
    """``judge`` and ``rule`` are registered names; ``ladder`` (a registered name) is passed
    to judges that take one; ``group_size`` is the GRPO group (``None``: the trainer's);
    ``extraction`` the answer extraction mode (``"strict"`` or ``"authors"``, see
    :func:`rewardkit.extract_answer`; written to JSON only when not the default)."""

    judge: str = "taxonomy"
    judge_options: Mapping[str, Any] = field(default_factory=dict)
    rule: str = "speciarl"
    rule_options: Mapping[str, Any] = field(default_factory=dict)
    ladder: str | None = None
    group_size: int | None = None
    tag: str | None = "answer"
    empty_is_missing: bool = True
    extraction: str = "strict"

    def __post_init__(self) -> None:
        for name in ("judge", "rule"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise SpecError(f"reward spec: {name} must be a registered name, got {value!r}")
        for name in ("judge_options", "rule_options"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise SpecError(f"reward spec: {name} must be an object, got {value!r}")
            # Paths are data: kept as strings.
            clean = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in value.items()}
            object.__setattr__(self, name, clean)
        if self.ladder is not None and not isinstance(self.ladder, str):
            raise SpecError(f"reward spec: ladder must be a registered name, got {self.ladder!r}")
        size = self.group_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise SpecError(f"reward spec: group_size must be a positive integer, got {size!r}")
        if self.tag is not None and not isinstance(self.tag, str):
            raise SpecError(f"reward spec: tag must be a string or null, got {self.tag!r}")
        if not isinstance(self.empty_is_missing, bool):
            raise SpecError("reward spec: empty_is_missing must be true or false")
        if self.extraction not in MODES:
            raise SpecError(
                f"reward spec: extraction must be one of {', '.join(MODES)}, "
                f"got {self.extraction!r}"
            )
        try:
            json.dumps(asdict(self), allow_nan=False)
        except (TypeError, ValueError) as e:
            raise SpecError(f"reward spec: options must be JSON data ({e})") from None

    def __repr__(self) -> str:
        """The spec as :meth:`to_dict` gives it: no secret option in a log or a message."""
        return f"RewardSpec({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    # -- data ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The spec as data, without the options its judge and rule declare secret."""
        data = asdict(self)
        data["judge_options"] = _public("judge", self.judge, self.judge_options)
        data["rule_options"] = _public("rule", self.rule, self.rule_options)
        if data["extraction"] == "strict":  # the default: specs written before it read the same
            del data["extraction"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RewardSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"reward spec must be an object, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"reward spec: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RewardSpec:
        try:
            data = json.loads(text)
        except ValueError as e:
            raise SpecError(f"reward spec: not valid JSON ({e})") from None
        return cls.from_dict(data)

    @classmethod
    def from_options(
        cls, options: Mapping[str, Any], *, own: Iterable[str] = ()
    ) -> tuple[RewardSpec, dict[str, Any]]:
        """A spec from flat options (verl's ``reward_kwargs``): spec keys are read as such,
        ``own`` keys (an adapter's, such as ``unscored``) are returned apart, and everything
        else is a judge option. Returns (spec, the adapter's own options)."""
        options = dict(options)
        mine = {k: options.pop(k) for k in list(options) if k in set(own)}
        known = {f.name for f in fields(cls)}
        data = {k: options.pop(k) for k in list(options) if k in known}
        judge_options = {**dict(data.pop("judge_options", {}) or {}), **options}
        return cls(judge_options=judge_options, **data), mine

    def save(self, path: str | os.PathLike) -> None:
        """Write the spec as JSON, atomically (a training run writes it beside its metrics as
        ``reward_spec.json``)."""
        import tempfile

        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".reward_spec-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> RewardSpec:
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_json(f.read())
        except OSError as e:
            raise SpecError(f"cannot read reward spec {os.fspath(path)}: {e.strerror}") from None

    def check(self) -> RewardSpec:
        """The spec, once its judge and rule exist and take its options (a
        :class:`~rewardkit.errors.OptionError` naming the option and the judge or rule, a
        :class:`~rewardkit.errors.RegistryError` for an unknown name, otherwise)."""
        from .plugins import judge_options, rule_options

        judge_options(self.judge).validate(self.judge_kwargs(), f"judge {self.judge!r}")
        rule_options(self.rule).validate(self.rule_options, f"rule {self.rule!r}")
        return self

    def judge_kwargs(self) -> dict[str, Any]:
        """The options the judge factory receives (the ladder included where set)."""
        kwargs = dict(self.judge_options)
        if self.ladder is not None:
            kwargs["ladder"] = self.ladder
        return kwargs


def _public(kind: str, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without those the judge or rule ``name`` declares secret (all of them
    when ``name`` is not registered here)."""
    from .plugins import judge_options, rule_options

    try:
        declared = judge_options(name) if kind == "judge" else rule_options(name)
    except LookupError:
        return dict(options)
    return declared.public(options)

"""``rewardkit openrlhf-reward``: write a reward file for OpenRLHF."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from ..errors import CLIError
from .args import (
    audit_arguments,
    judge_arguments,
    judge_options,
    positive_int,
    rendezvous_arguments,
    rule_arguments,
    rule_options,
)
from .command import Command, example

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output", "-o", dest="reward_file", required=True, help="the reward file to write (.py)"
    )
    p.add_argument(
        "--group-size",
        "-g",
        type=positive_int,
        required=True,
        help="OpenRLHF's --rollout.n_samples_per_prompt",
    )
    p.add_argument("--rule", default="speciarl", help="registered reward rule")
    rendezvous_arguments(p)
    audit_arguments(p, ("warn", "stop"), "the groups as they complete")
    p.add_argument("--monitor-dir", help="where the monitor writes audit.jsonl, monitor.jsonl")
    p.add_argument(
        "--monitor-groups",
        type=positive_int,
        default=8,
        help="whole groups per monitor step (default 8)",
    )
    judge_arguments(p)
    rule_arguments(p)


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..adapters.openrlhf import write_reward_file
    from ..errors import CacheError

    try:
        path = write_reward_file(
            args.reward_file,
            group_size=args.group_size,
            judge=args.judge,
            rule=args.rule,
            judge_options=judge_options(args),
            rule_options=rule_options(args),
            timeout=args.group_timeout,
            unscored=args.unscored_reward,
            require_card=args.require_card,
            monitor=_monitor(args),
        )
    except CacheError as e:
        raise CLIError(str(e)) from None
    yield f"wrote {path}: pass --reward.remote_url {path.resolve()} to OpenRLHF"


def _monitor(args: argparse.Namespace) -> dict | None:
    """The reward monitor's options for the file, or None without --audit-spec."""
    if not args.audit_spec:
        if args.monitor_dir:
            raise CLIError("--monitor-dir needs --audit-spec (the audit judge)")
        return None
    from ..spec import RewardSpec, SpecError

    try:
        RewardSpec.load(args.audit_spec)
    except (OSError, ValueError, SpecError) as e:
        raise CLIError(f"--audit-spec {args.audit_spec}: {e}") from None
    if not 0 < args.audit_rate <= 1:
        raise CLIError(f"--audit-rate must be in (0, 1], got {args.audit_rate:g}")
    return {
        "audit_spec": args.audit_spec,
        "audit_rate": args.audit_rate,
        "alarm_policy": args.alarm_policy,
        "monitor_dir": args.monitor_dir,
        "monitor_groups": args.monitor_groups,
    }


COMMAND = Command(
    "openrlhf-reward",
    "write a reward file for OpenRLHF",
    add_arguments,
    run,
    epilog=example("rewardkit openrlhf-reward -o reward.py -g 8 --taxonomy tax.json"),
)

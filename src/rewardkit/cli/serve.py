"""``rewardkit serve``: rewards over HTTP (OpenRLHF's remote reward protocol and a JSON API)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import CLIError, RewardkitError
from .args import (
    audit_arguments,
    group_size_for,
    judge_arguments,
    judge_options,
    load_spec,
    port_number,
    positive_int,
    positive_seconds,
    rendezvous_arguments,
    rule_arguments,
    rule_options,
)
from .command import Command, example

__all__ = ["COMMAND", "add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rule", default="speciarl", help="registered reward rule")
    p.add_argument(
        "--group-size", "-g", type=positive_int, help="completions per prompt (group rules)"
    )
    p.add_argument("--spec", help="a reward_spec.json instead of the judge and rule flags")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=port_number, default=8080, help="port (default 8080; 0: any free)"
    )
    p.add_argument("--token-env", help="require 'Authorization: Bearer $VAR' on every request")
    p.add_argument(
        "--allow-open",
        action="store_true",
        help="serve a non-loopback --host without a token (refused otherwise)",
    )
    p.add_argument(
        "--groups", help="redis://HOST:PORT/DB: assemble groups in Redis, shared by replicas"
    )
    p.add_argument("--max-body", type=positive_int, default=1 << 20, help="bytes (default 1 MiB)")
    p.add_argument(
        "--max-pairs",
        type=positive_int,
        default=4096,
        help="pairs or completions in one request; more get 413 (default 4096)",
    )
    p.add_argument(
        "--read-timeout",
        type=positive_seconds,
        default=30.0,
        help="seconds a client may take to send a request's headers, and then its body; "
        "slower connections are closed (default 30)",
    )
    audit_arguments(p, ("warn", "filter"), "/v1/reward's groups; /metrics shows its alarms")
    rendezvous_arguments(p)
    judge_arguments(p)
    rule_arguments(p)


def _token(args: argparse.Namespace) -> str | None:
    """The bearer token, and the refusal to serve a non-loopback address without one."""
    import ipaddress

    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise CLIError(f"--token-env {args.token_env}: the variable is not set or empty")
    try:
        loopback = args.host == "localhost" or ipaddress.ip_address(args.host).is_loopback
    except ValueError:  # a host name: taken as reachable from outside
        loopback = False
    if not loopback and token is None:
        if not args.allow_open:
            raise CLIError(
                f"--host {args.host} is not a loopback address and no token is set: "
                "set --token-env or pass --allow-open"
            )
        logging.getLogger(__name__).warning(
            "serving on %s without a token (--allow-open): anyone who can reach it can use it",
            args.host,
        )
    return token


def _monitor(args: argparse.Namespace, reward: Any) -> Any:
    """The monitor of ``--audit-spec``, or None."""
    if not args.audit_spec:
        return None
    from ..monitor import Alarms, Audit, Monitor
    from ..pipeline import LadderReward

    judge = LadderReward.from_spec(load_spec(args.audit_spec)).judge
    audit = Audit(judge, rate=args.audit_rate)
    return Monitor(reward, audit=audit, alarms=Alarms(policy=args.alarm_policy))


def run(args: argparse.Namespace) -> Iterator[str]:
    from ..pipeline import LadderReward
    from ..serve import RewardServer, serve
    from ..serve_stores import log_redacted, redact
    from ..spec import RewardSpec

    log_redacted()  # every log line of the service, passwords masked
    token = _token(args)
    try:
        if args.spec:
            spec = load_spec(args.spec)
        else:
            options = judge_options(args)
            ladder = options.pop("ladder", None)
            spec = RewardSpec(
                judge=args.judge,
                judge_options=options,
                rule=args.rule,
                rule_options=rule_options(args),
                ladder=ladder,
                group_size=args.group_size,
            )
        reward = LadderReward.from_spec(spec)
        size = group_size_for(reward.rule, spec.rule, args.group_size or spec.group_size)
        server = RewardServer(
            reward,
            group_size=size,
            timeout=args.group_timeout,
            unscored=args.unscored_reward,
            token=token,
            max_body=args.max_body,
            groups=args.groups,
            read_timeout=args.read_timeout,
            max_pairs=args.max_pairs,
            require_card=args.require_card,
            monitor=_monitor(args, reward),
        )

        def ready(port: int) -> None:
            print(f"rewardkit serve: http://{args.host}:{port} ({reward!r})", file=sys.stderr)
            sys.stderr.flush()

        serve(server, args.host, args.port, ready)
    except (RewardkitError, LookupError, ValueError, OSError) as e:
        raise CLIError(redact(str(e))) from None
    yield from ()


COMMAND = Command(
    "serve",
    "serve rewards over HTTP (OpenRLHF's remote reward protocol and a JSON API)",
    add_arguments,
    run,
    description="An HTTP reward server: POST / (OpenRLHF), /v1/judge, /v1/reward; "
    "GET /health, /metrics. Binds 127.0.0.1 unless --host says otherwise.",
    epilog=example(
        "rewardkit serve --taxonomy tax.json --rule speciarl -g 8 --port 8080\n"
        "  then: --reward.remote_url http://127.0.0.1:8080 (OpenRLHF)"
    ),
)

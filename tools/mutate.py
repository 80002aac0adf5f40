"""``make mutate``: mutation testing of rewardkit's critical modules with mutmut.

Runs ``mutmut run`` (configured in pyproject.toml's ``[tool.mutmut]``) from a fresh ``mutants/``
folder over the modules named on the command line (all critical modules by default), then
prints the kill rate per module, the total, and every survivor with its diff. mutmut copies
``src/rewardkit`` into ``mutants/`` and mutates only that copy.

    python tools/mutate.py                  # every critical module
    python tools/mutate.py rules ladders    # some of them
    python tools/mutate.py --report         # the report of the last run again, no run
    python tools/mutate.py --keep guards    # guards afresh, keeping the other modules' results
    python tools/mutate.py --again guards   # only guards' survivors again (after new tests)

A mutant is *killed* when a test fails with it (a time-out counts: the tests caught a hang);
it *survived* when every test that reaches its function passes; *no tests* when no selected
test reaches its function at all. Kill rate = (killed + time-outs) / all mutants run.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The critical modules: a short name, the source file and the mutants (mutmut names) counted.
#: Of judges/llm.py only the cache identity (``LLMJudge._identity``) is mutated.
MODULES: dict[str, tuple[str, str]] = {
    "rules": ("src/rewardkit/rules.py", "rewardkit.rules.*"),
    "records": ("src/rewardkit/records.py", "rewardkit.records.*"),  # Batch, Member, Judged
    "ladders": ("src/rewardkit/ladders.py", "rewardkit.ladders.*"),
    "replies": ("src/rewardkit/replies.py", "rewardkit.replies.*"),
    "text": ("src/rewardkit/text.py", "rewardkit.text.*"),  # replies and labels read through it
    "guards": ("src/rewardkit/guards.py", "rewardkit.guards.*"),
    "answers": ("src/rewardkit/answers.py", "rewardkit.answers.*"),
    "groups": ("src/rewardkit/groups.py", "rewardkit.groups.*"),
    "redis_groups": ("src/rewardkit/redis_groups.py", "rewardkit.redis_groups.*"),
    "trl": ("src/rewardkit/adapters/trl.py", "rewardkit.adapters.trl.*"),
    "verl_manager": ("src/rewardkit/adapters/verl_manager.py", "rewardkit.adapters.verl_manager.*"),
    "identity": ("src/rewardkit/judges/llm.py", "rewardkit.judges.llm.*ǁ_identity__mutmut_*"),
    "fingerprint": ("src/rewardkit/fingerprint.py", "rewardkit.fingerprint.*"),
}

KILLED = {1, 3, -24, 24, 152, 255, 36}  # a failing test, or a time-out (SIGXCPU)
TIMEOUT = {-24, 24, 152, 255, 36}
SURVIVED = {0}
NO_TESTS = {5, 33}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--jobs", type=int, default=2, help="mutmut's children (default 2)")
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument("--no-diffs", action="store_true", help="survivors by name only")
    parser.add_argument("--keep", action="store_true", help="keep the other modules' results")
    parser.add_argument("--again", action="store_true", help="re-run only the last survivors")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}: choose from {', '.join(MODULES)}")
    names = args.modules or list(MODULES)
    os.chdir(ROOT)
    elapsed = None
    if args.again:  # new tests are found by mutmut and timed; the other results stay
        by_module = results(names)
        left = [k for n, m in by_module.items() for k, c in m.items() if _status(c) == "survived"]
        elapsed = run(left, args.jobs, keep=True) if left else 0.0
    elif not args.report:
        elapsed = run([MODULES[n][1] for n in names], args.jobs, keep=args.keep)
    return report(names, elapsed, diffs=not args.no_diffs)


def run(mutants: list[str], jobs: int, *, keep: bool = False) -> float:
    """A mutmut run over ``mutants`` (names or patterns), from a fresh mutants/ unless ``keep``;
    its output goes to mutants/mutmut.log, with a progress line every minute here. Returns the
    seconds it took."""
    if not keep:
        shutil.rmtree("mutants", ignore_errors=True)
    Path("mutants").mkdir(exist_ok=True)
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(jobs), *mutants]
    shown = " ".join(mutants) if len(mutants) < 8 else f"{len(mutants)} mutants"
    print(f"mutate: {shown} with {jobs} children (log: mutants/mutmut.log)", flush=True)
    start = last = time.monotonic()
    status = ""
    with open("mutants/mutmut.log", "a" if keep else "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        pending = b""
        while chunk := proc.stdout.read1(4096):  # type: ignore[attr-defined]
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for raw in lines:
                line = raw.decode("utf-8", "replace").strip()
                if line:
                    log.write(line + "\n")
                    if re.match(r"^\S*\s*\d+/\d+\s", line):
                        status = line
            if time.monotonic() - last >= 60 and status:
                last = time.monotonic()
                print(f"  {time.monotonic() - start:6.0f} s  {status}", flush=True)
        log.write(pending.decode("utf-8", "replace"))
        code = proc.wait()
    elapsed = time.monotonic() - start
    if code:
        tail = Path("mutants/mutmut.log").read_text(encoding="utf-8").splitlines()[-40:]
        print("\n".join(tail))
        raise SystemExit(f"mutmut failed (exit {code}); the whole log is mutants/mutmut.log")
    return elapsed


def results(names: list[str]) -> dict[str, dict[str, int | None]]:
    """Each module's mutants (by mutmut name) and their exit codes, from mutants/*.meta."""
    out = {}
    for name in names:
        path, pattern = MODULES[name]
        meta = Path("mutants") / (path + ".meta")
        if not meta.exists():
            raise SystemExit(f"no results for {name} ({meta} is missing): run `make mutate` first")
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        out[name] = {k: v for k, v in codes.items() if fnmatch.fnmatchcase(k, pattern)}
    return out


def report(names: list[str], elapsed: float | None, *, diffs: bool) -> int:
    by_module = results(names)
    rows = []
    totals: Counter = Counter()
    for name in names:
        codes = list(by_module[name].values())
        count = Counter(_status(c) for c in codes)
        totals.update(count)
        rows.append((name, len(codes), count))
    print()
    print(
        f"{'module':<14}{'mutants':>9}{'killed':>8}{'timeout':>9}{'survived':>10}"
        f"{'no tests':>10}{'other':>7}{'kill rate':>11}"
    )
    for name, n, count in [*rows, ("total", sum(totals.values()), totals)]:
        caught = count["killed"] + count["timeout"]
        rate = f"{100 * caught / n:.1f}%" if n else "-"
        print(
            f"{name:<14}{n:>9}{count['killed']:>8}{count['timeout']:>9}{count['survived']:>10}"
            f"{count['no tests']:>10}{count['other']:>7}{rate:>11}"
        )
    if elapsed is not None:
        print(f"\nmutmut ran {elapsed / 60:.1f} min")
    left = [
        (name, key, code)
        for name in names
        for key, code in sorted(by_module[name].items(), key=lambda kv: _natural(kv[0]))
        if not _caught(code)
    ]
    if left:
        print(f"\n{len(left)} not killed (`.venv/bin/mutmut show NAME` shows one):")
        for _, key, code in left:
            print(f"\n{_status(code)}: {key}")
            if diffs:
                print(_diff(key))
    return 0


def _caught(code: int | None) -> bool:
    return code in KILLED


def _status(code: int | None) -> str:
    if code in KILLED:
        return "timeout" if code in TIMEOUT else "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no tests"
    return "other"


def _natural(key: str) -> tuple:
    stem, _, number = key.rpartition("__mutmut_")
    return (stem, int(number) if number.isdigit() else 0)


def _diff(key: str) -> str:
    mutmut = Path(sys.executable).with_name("mutmut")
    done = subprocess.run([str(mutmut), "show", key], capture_output=True, text=True)
    lines = done.stdout.splitlines()[1:]  # the first line repeats the name and status
    keep = [
        line for line in lines if line.startswith(("-", "+")) and line[:3] not in ("---", "+++")
    ]
    return "\n".join("    " + line for line in keep) or "    " + done.stderr.strip()


if __name__ == "__main__":
    sys.exit(main())

"""Runs inside the sandbox, before the untrusted program: set resource limits, drop root, then
compile and run the program in this interpreter. Standard library only (it runs under the
sandbox's ``python3 -I -S``); it imports nothing of rewardkit.

Usage: ``python3 -I -S launcher.py LIMITS_JSON PROGRAM_PATH``. Exit status 86 means the program
does not compile (its ``SyntaxError`` is on stderr).
"""

import json
import os
import resource
import sys

SYNTAX_ERROR = 86


def limit(limits: dict) -> None:
    """Apply the limits (bytes, seconds, counts); as root, become ``limits["uid"]``."""
    cpu = int(limits["cpu"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    for name, key in (
        ("RLIMIT_AS", "memory"),
        ("RLIMIT_NPROC", "processes"),
        ("RLIMIT_FSIZE", "file_size"),
        ("RLIMIT_NOFILE", "files"),
    ):
        value = int(limits[key])
        resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    uid = limits.get("uid")
    if uid is not None and os.getuid() == 0:  # root without a user namespace: drop it all
        os.chown(os.getcwd(), uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def main() -> None:
    limit(json.loads(sys.argv[1]))
    path = sys.argv[2]
    with open(path, encoding="utf-8", errors="replace") as f:
        source = f.read()
    try:
        code = compile(source, "program.py", "exec")
    except (SyntaxError, ValueError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(SYNTAX_ERROR)
    sys.argv = ["program.py"]
    exec(code, {"__name__": "__main__", "__builtins__": __builtins__})


if __name__ == "__main__":
    main()

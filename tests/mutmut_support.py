"""What the tests need to run under ``make mutate`` (mutmut), and nothing else.

mutmut wraps every mutated function in a trampoline (a ``functools.wraps`` wrapper around a
local function) that calls the original or the active mutant. A cache identity fingerprints
functions by their code (:mod:`rewardkit.fingerprint`), and refuses a function that holds a
local function - so the SPECIARL ladder's canonicaliser, a trampoline there, would be refused
when ``rewardkit`` is imported. Under mutmut only, the fingerprint looks through a trampoline
at the function as written (``__wrapped__``), which has the same code, name and identity as
the unmutated source.

A mutant that makes a test hang would hold a worker until mutmut's time-out for all the tests
of its function; while a mutant runs, each test instead fails once it has run 3 times its
unmutated time plus 2 seconds (:func:`hang_guard`, from mutmut's own record of the tests'
times). Outside mutmut (no ``MUTANT_UNDER_TEST`` in the environment) this module changes
nothing.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import json
import os
import signal
import sys

_MODULE = "rewardkit.fingerprint"


def install() -> None:
    """Under mutmut, patch :mod:`rewardkit.fingerprint` as it is imported (the first import of
    ``rewardkit`` already fingerprints its ladders' canonicalisers)."""
    if "MUTANT_UNDER_TEST" not in os.environ:
        return
    if _MODULE in sys.modules:
        _patch(sys.modules[_MODULE])
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _Finder:
    """Finds ``rewardkit.fingerprint`` as usual and patches it once it has run."""

    def find_spec(self, name, path=None, target=None):
        if name != _MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _patch(module) -> None:
    walker = module._Walker
    if getattr(walker.function, "_sees_through_mutmut", False):
        return
    import mutmut.mutation.trampoline as trampoline

    here = trampoline.wrap_in_trampoline.__code__.co_filename
    walk = walker.function

    def function(self, fn, strict):
        while fn.__code__.co_filename == here and hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        return walk(self, fn, strict)

    function._sees_through_mutmut = True  # type: ignore[attr-defined]
    walker.function = function


class MutantHang(BaseException):
    """A test ran far past its unmutated time under a mutant (a BaseException, so that code
    catching Exception does not swallow it)."""


_TIMES: dict[str, float] | None = None


def _times() -> dict[str, float]:
    """Each test's unmutated time, from mutmut's stats (the working directory is mutants/)."""
    global _TIMES
    if _TIMES is None:
        try:
            with open("mutmut-stats.json", encoding="utf-8") as f:
                _TIMES = json.load(f)["duration_by_test"]
        except (OSError, ValueError, KeyError):
            _TIMES = {}
    return _TIMES


@contextlib.contextmanager
def hang_guard(nodeid: str):
    """While a mutant runs: fail the test at 3 x its unmutated time + 2 s."""
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    seconds = _times().get(nodeid) if "__mutmut_" in mutant else None
    if seconds is None:
        yield
        return
    limit = 3 * seconds + 2.0

    def hang(signum, frame):
        raise MutantHang(f"{nodeid} ran past {limit:.1f} s under {mutant}")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

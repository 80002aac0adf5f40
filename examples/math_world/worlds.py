"""Two miniature worlds generated offline for the math and code ladders.

- :class:`ArithmeticWorld`: GSM8K-style word problems ("Tom has 3 apples and buys 4 more. How
  many apples does Tom have?") with small numbers. The policy answers with one token: an
  integer (``correct`` or ``wrong``), the same value as a decimal (``7.0``: the value is right,
  the form is not - ``right_value_wrong_form`` with ``form="truth"``) or nothing.
- :class:`CodeWorld`: four stdin/stdout tasks (sum, product, difference, maximum of two
  integers), each with three tests. The policy answers with one token: a whole program - a
  solution to one of the tasks, a constant ``print(k)`` (passes the tests whose output is k),
  a crash or a syntax error.

Each world gives a warm-start mix (:meth:`warm_start_answer`): a base model that knows the
answers but prefers the wrong form, or programs that pass only some tests.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    prompt: str
    label: str  # the ground truth: a number, or the tests as JSON
    key: str  # what the warm start knows: the answer, or the task's name


NAMES = ["Tom", "Ana", "Li", "Sam"]
THINGS = ["apples", "pens", "coins", "cards"]
TEMPLATES = {
    "+": "{who} has {a} {what} and buys {b} more . How many {what} does {who} have ?",
    "-": "{who} has {a} {what} and gives {b} away . How many {what} does {who} have ?",
}
TOP = 4  # numbers 1..TOP in the problems; answers 0..2*TOP


class ArithmeticWorld:
    ladder = "math_answer"
    judge_options = {"form": "truth", "workers": 1}

    def problems(self) -> list[Problem]:
        out = []
        for op, template in TEMPLATES.items():
            for a in range(1, TOP + 1):
                for b in range(1, TOP + 1):
                    if op == "-" and b > a:
                        continue
                    who, what = NAMES[(a + b) % 4], THINGS[(a * b) % 4]
                    prompt = template.format(who=who, a=a, b=b, what=what)
                    value = a + b if op == "+" else a - b
                    out.append(Problem(prompt, str(value), str(value)))
        return out

    def vocabulary(self) -> list[str]:
        words = {w for t in TEMPLATES.values() for w in t.split() if "{" not in w}
        words |= {*NAMES, *THINGS}
        numbers = [str(n) for n in range(2 * TOP + 1)]
        return sorted(words) + numbers + [f"{n}.0" for n in numbers]

    def warm_start_answer(self, problem: Problem, rng: random.Random) -> str:
        """The right value as a decimal half the time, as an integer a fifth, else a number
        one off: the value is mostly known, the form mostly not."""
        value = int(problem.key)
        roll = rng.random()
        if roll < 0.5:
            return f"{value}.0"
        if roll < 0.7:
            return str(value)
        return str(max(0, value + rng.choice([-1, 1])))


def _tests(function, cases) -> str:
    return json.dumps([{"input": f"{a} {b}", "output": str(function(a, b))} for a, b in cases])


READ = "a,b=map(int,input().split());"
SOLUTIONS = {
    "sum": READ + "print(a+b)",
    "product": READ + "print(a*b)",
    "difference": READ + "print(a-b)",
    "maximum": READ + "print(max(a,b))",
}
FUNCTIONS = {
    "sum": lambda a, b: a + b,
    "product": lambda a, b: a * b,
    "difference": lambda a, b: a - b,
    "maximum": max,
}
CASES = [(2, 3), (4, 1), (3, 3)]
BROKEN = ["print(1/0)", "print(", READ + "print(a+b+1)"]


class CodeWorld:
    ladder = "code"
    judge_options = {"workers": 2, "timeout": 5}

    def problems(self) -> list[Problem]:
        return [
            Problem(f"write {task} of two integers", _tests(FUNCTIONS[task], CASES), task)
            for task in SOLUTIONS
        ]

    def vocabulary(self) -> list[str]:
        words = {w for task in SOLUTIONS for w in f"write {task} of two integers".split()}
        constants = sorted({f"print({FUNCTIONS[t](a, b)})" for t in FUNCTIONS for a, b in CASES})
        return sorted(words) + list(SOLUTIONS.values()) + constants + BROKEN

    def warm_start_answer(self, problem: Problem, rng: random.Random) -> str:
        """The solution a fifth of the time, else a constant right on one test (passes some),
        another task's solution or a broken program."""
        roll = rng.random()
        if roll < 0.2:
            return SOLUTIONS[problem.key]
        if roll < 0.6:
            a, b = rng.choice(CASES)
            return f"print({FUNCTIONS[problem.key](a, b)})"
        if roll < 0.8:
            return SOLUTIONS[rng.choice([t for t in SOLUTIONS if t != problem.key])]
        return rng.choice(BROKEN)


WORLDS = {"math": ArithmeticWorld, "code": CodeWorld}

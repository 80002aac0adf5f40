"""The code keeps its shape: no module of rewardkit over 400 lines, no function over 80 (its
decorators and docstring included). A change that grows past either splits the module or the
function where its parts are named."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "rewardkit"
MAX_MODULE = 400
MAX_FUNCTION = 80


def sizes() -> tuple[dict[str, int], dict[str, int]]:
    """Lines per module and per function (``module:qualified.name``)."""
    modules, functions = {}, {}
    for path in sorted(SRC.rglob("*.py")):
        name = str(path.relative_to(SRC))
        text = path.read_text()
        modules[name] = len(text.splitlines())
        stack = [(node, "") for node in ast.parse(text).body]
        while stack:
            node, prefix = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{prefix}{node.name}."
                stack += [(child, inner) for child in node.body]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                functions[f"{name}:{prefix}{node.name}"] = node.end_lineno - start + 1
    return modules, functions


def test_no_module_is_over_400_lines():
    modules, _ = sizes()
    assert len(modules) > 50  # the package was found
    assert {m: n for m, n in modules.items() if n > MAX_MODULE} == {}


def test_no_function_is_over_80_lines():
    _, functions = sizes()
    assert functions["groups.py:GroupBuffer.join"] > 10  # methods and nested functions count
    assert {f: n for f, n in functions.items() if n > MAX_FUNCTION} == {}

"""The import graph runs one way: no module imports one of a layer above it - at the top of the
file or inside a function - with no exception: the records and errors every layer shares sit at
the bottom, the registry (``plugins``, ``hookspecs``, ``builtins``) above the judges and rules
it registers. Imports only for type checking do not count."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "rewardkit"

# Lowest first. A module may import modules of its own layer or below.
LAYERS = [
    {
        "errors",
        "data",
        "extras",
        "options",
        "records",
        "version",
        "ladders",
        "replies",
        "text",
        "urls",
        "fingerprint",
        "guards",
        "answers",
        "taxonomy",
        "groups",
        "redis_groups",
        "redis_scripts",
        "tiny",
    },
    {"judges", "verifiers"},
    {"rules", "group_norm", "shaping"},
    {"metrics"},
    {
        "spec",  # reads the options judges and rules declare from the registry
        "pipeline",
        "agreement",
        "builtins",
        "plugins",
        "hookspecs",
        "redteam.attacks",  # the attack catalogue, which the built-ins register
        "redteam.catalogue",
        "monitor",  # audit judge, drift monitors, alarms (trainers and the CLI use them)
    },
    {
        "loop",
        "adapters",
        "rendezvous",  # the group stores behind one protocol, for adapters and serve
        "serve",
        "serve_bodies",
        "serve_conn",
        "serve_metrics",
        "serve_stores",
        "redteam",
    },
    {"cli", "__init__", "redteam.command"},
]


def layer_of(name: str) -> int:
    """The layer of ``name`` or of its closest enclosing package listed (``redteam.command``
    before ``redteam``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        for i, layer in enumerate(LAYERS):
            if prefix in layer:
                return i
    raise AssertionError(f"module {name!r} is in no layer: add it to LAYERS")


def imports(path: Path) -> list[tuple[str, int]]:
    """(rewardkit module, line) imported by ``path``, skipping ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(SRC).with_suffix("").parts[:-1]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}".strip(".") for a in node.names]
                # ``from . import __version__``: a name from a package's __init__, not a module.
                names = [
                    n if _is_module(n) else (n.rsplit(".", 1)[0] if "." in n else "__init__")
                    for n in names
                ]
                out += [(n if n != "" else "__init__", node.lineno) for n in names]
            elif node.module and node.module.startswith("rewardkit"):
                out.append(
                    (node.module.removeprefix("rewardkit").strip(".") or "__init__", node.lineno)
                )
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("rewardkit."):
                    out.append((a.name.removeprefix("rewardkit."), node.lineno))
    return out


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def test_no_module_imports_a_layer_above_it():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        me = ".".join(path.relative_to(SRC).with_suffix("").parts)
        mine = layer_of(me)
        for name, line in imports(path):
            if not name:
                continue
            if layer_of(name) > mine:
                wrong.append(f"{me}:{line} imports {name} (layer {layer_of(name)} > {mine})")
    assert not wrong, "\n".join(wrong)

"""The package's layers: imports only go down, and no module imports itself through others.

Every ``import`` in ``src/atelier`` counts, function-level ones included (they are how import
cycles hide). A module may import from a lower layer or from its own layer's package; the
layer order is the one docs/architecture.md draws.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
RANK = {"base": 0, "io": 1, "core": 2, "feedforward": 3, "library": 4, "portrait": 5, "evaluation": 6,
        "api": 7, "about": 7, "scale": 8, "web": 9, "cli": 10, "__main__": 11, "": 11}  # "": the package's __init__
LAYERS = list(RANK)


def modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "atelier").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The atelier modules ``name`` imports (a package's ``from . import x`` resolves to ``x``)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "atelier"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "atelier":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return found - {name}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


def test_every_module_belongs_to_a_known_layer():
    assert {layer(m) for m in GRAPH} <= set(LAYERS), sorted({layer(m) for m in GRAPH} - set(LAYERS))


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_only_go_down(name):
    upward = sorted(t for t in GRAPH[name]
                    if layer(t) != layer(name) and RANK[layer(t)] >= RANK[layer(name)] and t != "atelier")
    assert not upward, f"{name} (layer {layer(name) or 'atelier'}) imports {upward} from a layer at or above it"


def test_nothing_imports_the_package_root():
    offenders = sorted(m for m, targets in GRAPH.items() if "atelier" in targets and m != "atelier.__main__")
    assert not offenders, f"{offenders} import `atelier` itself (import from the layer that owns the name)"


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_sees_a_planted_upward_import():
    """The layer rule is not vacuous: a core module importing the CLI is caught."""
    path = SRC / "atelier" / "core" / "gatys.py"
    planted = ast.parse("from ..cli import common")
    name = "atelier.core.gatys"
    package = name.rsplit(".", 1)[0]
    node = planted.body[0]
    target = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [node.module])
    assert path.exists() and layer(target) == "cli" and RANK[layer(target)] > RANK[layer(name)]

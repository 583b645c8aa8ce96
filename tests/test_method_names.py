"""No module outside ``atelier/feedforward/`` branches on a feed-forward method's name.

Facts about a model (does it need a style image, is it trainable, a portrait backend, the instant
preview...) are declared by its class (:class:`atelier.feedforward.model.FeedForwardModel`) and
read through ``registry.spec(name)``; the names themselves come from the registries. So outside
the feed-forward package no code compares a value to a model name written as a string literal
(``method == "johnson"``, ``m in ("sanet", "ghiasi")``), and no code spells a model name as a
bare string literal at all (a tuple of names or a dict keyed by them is a comparison in waiting).
Docstrings and help texts, which mention names inside longer sentences, are not affected.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from atelier.feedforward import registry

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "atelier"
NAMES = frozenset(registry.NAMES)


def _literals(node: ast.AST) -> list[str]:
    """String constants of ``node`` itself or of a tuple/list/set literal it is."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for elt in node.elts for s in _literals(elt)]
    return []


def offences(source: str) -> list[str]:
    """``line: what`` for every comparison against, or bare literal of, a feed-forward model name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            named = [s for side in (node.left, *node.comparators) for s in _literals(side) if s in NAMES]
            found += [f"{node.lineno}: compares with {s!r}" for s in named]
        elif isinstance(node, ast.Constant) and node.value in NAMES:
            found.append(f"{node.lineno}: literal {node.value!r}")
    return sorted(set(found))


def test_the_scan_catches_name_checks():
    assert offences('if method == "johnson":\n    pass\n') == ["1: compares with 'johnson'", "1: literal 'johnson'"]
    assert any("compares with 'ghiasi'" in o for o in offences('ok = m in ("sanet", "ghiasi")\n'))
    assert offences('x = {"multistyle": 1}\n') == ["1: literal 'multistyle'"]
    assert offences('"""adain, wct: the sanet method."""\nif spec(m).needs_style: pass\n') == []


OUTSIDE = sorted(p for p in PACKAGE.rglob("*.py") if "feedforward" not in p.relative_to(PACKAGE).parts)


def test_there_are_modules_to_scan():
    assert len(OUTSIDE) > 40 and PACKAGE / "web" / "capabilities.py" in OUTSIDE


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_outside_feedforward_branches_on_a_model_name(path):
    found = offences(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(PACKAGE)}: {found} (ask registry.spec(name) instead)"


def test_one_registry_of_method_names_feeds_the_cli_the_web_portrait_and_evaluate():
    from atelier.cli.stylize import stylize_cmd
    from atelier.evaluation.runner import EvalOptions
    from atelier.library import methods
    from atelier.portrait.mode import BACKENDS

    assert ("gatys", "augmented", *registry.NAMES) == methods.METHODS
    choices = next(p for p in stylize_cmd.params if p.name == "method").type.choices
    assert tuple(choices) == methods.STYLIZE == ("gatys", *registry.NAMES)
    assert tuple(EvalOptions().methods) == methods.COMPARED == ("gatys", "augmented", "adain", "wct", "sanet", "ghiasi")
    assert BACKENDS == methods.PORTRAIT_BACKENDS == ("gatys", "sanet", "ghiasi")
    assert methods.INSTANT == "ghiasi" and registry.trainable() == registry.NAMES

"""The structure rules of the tree: no private name crosses a module, no import circle."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import gridfs

ROOT = Path(gridfs.__file__).parent
# Underscore names that are public API of the standard library.
STDLIB_UNDERSCORED = {"_exit", "_replace", "_asdict", "_fields"}


def _modules() -> dict[str, ast.Module]:
    trees = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        trees[name] = ast.parse(path.read_text(), str(path))
    return trees


def _own_names(tree: ast.Module) -> set[str]:
    """The names a module defines: functions, classes, assigned attributes and variables."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def test_no_module_uses_another_modules_private_names() -> None:
    reaches = []
    for name, tree in _modules().items():
        own = _own_names(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gridfs"):
                reaches += [f"{name}: import {a.name}" for a in node.names if a.name[0] == "_"]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                if node.attr.startswith("__") or node.attr in STDLIB_UNDERSCORED | own:
                    continue
                if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                    continue  # an object's own (or inherited) internals
                reaches.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert reaches == []


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False


def _imported(name: str, tree: ast.Module) -> set[str]:
    """The gridfs modules ``name`` imports at module level (type-checking imports included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gridfs")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gridfs"):
            assert node.module is not None
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _is_module(submodule) else node.module)
    found.discard(name)
    return found


def test_no_import_circle_inside_gridfs() -> None:
    trees = _modules()
    graph = {name: _imported(name, tree) & set(trees) for name, tree in trees.items()}
    # A package's __init__ gathering its modules is no circle: leave those edges out.
    packages = _packages(trees)
    graph = {
        name: {t for t in targets if not (name in packages and t.startswith(f"{name}."))}
        for name, targets in graph.items()
    }
    circles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def _packages(trees: dict[str, ast.Module]) -> set[str]:
    return {name for name in trees if any(other.startswith(f"{name}.") for other in trees)}

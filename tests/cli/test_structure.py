"""The shape of gridfs/cli: it talks only to the gfal layer, and registers verbs one way."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import click
import pytest

import gridfs.cli
from gridfs.cli import app

CLI_DIR = Path(gridfs.cli.__file__).parent
BELOW_GFAL = ("gridfs.catalog", "gridfs.storage", "gridfs.metadata")
# The grid's own parts: the CLI asks the Grid facade instead of reaching through it.
GRID_INSIDES = ("catalog", "metadata", "stager")


def _sources() -> list[tuple[str, ast.Module]]:
    return [
        (path.name, ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(CLI_DIR.glob("*.py"))
    ]


def _is_below_gfal(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in BELOW_GFAL)


def test_the_cli_imports_nothing_below_gfal() -> None:
    found = []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [f"{name}: {a.name}" for a in node.names if _is_below_gfal(a.name)]
            elif isinstance(node, ast.ImportFrom) and _is_below_gfal(node.module or ""):
                found.append(f"{name}: {node.module}")
    assert not found


def _is_grid(node: ast.expr) -> bool:
    """``grid``, ``state.grid``, ``admin_grid``, ``grid.as_identity(...)`` and the like."""
    if isinstance(node, ast.Name):
        return "grid" in node.id
    if isinstance(node, ast.Attribute):
        return "grid" in node.attr
    return isinstance(node, ast.Call) and _grid_call(node)


def _grid_call(node: ast.Call) -> bool:
    func = node.func
    makes_grid = ("as_identity", "with_options", "from_config")
    return isinstance(func, ast.Attribute) and (func.attr in makes_grid or _is_grid(func.value))


def _reaches(tree: ast.AST) -> list[int]:
    """The lines where ``tree`` reaches through a grid to its catalog, metadata, stager, backend."""
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in GRID_INSIDES:
            # report.catalog (a checksum) is a value; grid.catalog and x.catalog.y are reaches
            used_further = isinstance(parents.get(id(node)), ast.Attribute)
            if _is_grid(node.value) or used_further or node.attr == "stager":
                lines.append(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "backend"
        ):
            lines.append(node.lineno)
    return lines


def test_the_cli_does_not_reach_through_the_grid() -> None:
    found = [f"{name}:{line}" for name, tree in _sources() for line in _reaches(tree)]
    assert not found


@pytest.mark.parametrize(
    ("code", "reaches"),
    [
        ("state.grid.catalog.identity", True),
        ("Metadata(grid.catalog)", True),
        ("admin.metadata.listattr(d)", True),
        ("grid.as_identity(SUPERUSER).catalog", True),
        ("x.stager", True),
        ("state.grid.backend(turl)", True),
        ("report.catalog", False),
        ("state.grid.listattr(d)", False),
    ],
)
def test_the_reach_check(code: str, reaches: bool) -> None:
    assert bool(_reaches(ast.parse(code))) is reaches


def _module_commands(module: object) -> list[click.Command]:
    """The click commands a module defines at its top level, not its groups' subcommands."""
    commands = [
        value
        for value in vars(module).values()
        if isinstance(value, click.Command)
        and getattr(value.callback, "__module__", None) == vars(module)["__name__"]
    ]
    nested = {
        id(sub)
        for command in commands
        if isinstance(command, click.Group)
        for sub in command.commands.values()
    }
    return [command for command in commands if id(command) not in nested]


def test_every_module_with_commands_is_a_family() -> None:
    modules = [
        importlib.import_module(f"gridfs.cli.{info.name}")
        for info in pkgutil.iter_modules([str(CLI_DIR)])
        if info.name not in ("__main__", "app")
    ]
    with_commands = {module.__name__ for module in modules if _module_commands(module)}
    assert with_commands == {family.__name__ for family in app.FAMILIES}


def test_every_family_registers_through_commands() -> None:
    for family in app.FAMILIES:
        listed = family.COMMANDS
        assert all(isinstance(command, click.Command) for command in listed), family.__name__
        missing = [c.name for c in _module_commands(family) if all(c is not x for x in listed)]
        assert not missing, f"{family.__name__} defines but does not list {missing}"


def test_the_group_holds_exactly_the_families_commands() -> None:
    expected = {command.name: command for family in app.FAMILIES for command in family.COMMANDS}
    assert app.cli.commands == expected
    assert len(expected) == sum(len(family.COMMANDS) for family in app.FAMILIES), "a name twice"


def test_only_the_app_adds_commands_to_the_group() -> None:
    for name, tree in _sources():
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "add_command"
        ]
        assert name == "app.py" or not calls, name

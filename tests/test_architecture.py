"""The package's folders are its architecture: imports run one way, with no circles.

cli -> review, authoring -> pipeline, writer -> the shared vocabulary (the top-level modules).
A wing never imports another wing; the vocabulary imports only itself.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "compiler"
LAYER = {"cli": 3, "review": 2, "authoring": 2, "pipeline": 1, "writer": 1}  # else: 0


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
    """The compiler modules `name` imports, at load time or inside functions."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # a submodule, or a name from the module itself
                submodule = f"{node.module}.{alias.name}"
                targets.append(submodule if submodule in MODULES else node.module)
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def third_party(name: str) -> set[str]:
    """The top-level packages outside the compiler that `name` imports."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - {"compiler"}


def wing(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYER else ""


def test_every_module_imports() -> None:
    for name in MODULES:
        if name != "compiler.__main__":
            importlib.import_module(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_says_what_it_owns(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring, f"{name} has no docstring"


def test_imports_run_one_way() -> None:
    upward = []
    for name in MODULES:
        if name in ("compiler", "compiler.__main__"):
            continue
        for target in imports(name):
            here, there = wing(name), wing(target)
            if target == "compiler":
                continue  # the package's version
            if here == there:
                continue
            if LAYER.get(there, 0) >= LAYER.get(here, 0):
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_no_import_circles() -> None:
    graph = {name: imports(name) for name in MODULES}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_the_command_line_is_only_in_cli() -> None:
    outside = [name for name in MODULES if wing(name) != "cli" and "click" in third_party(name)]
    assert outside == []

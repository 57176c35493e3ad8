"""The shape of the code: dependencies point one way and no module imports itself back.

Every import statement counts, lazy ones inside functions included; only imports
under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Installed package name of each top-level source directory.
PACKAGES = {"host": "crossbox.host", "guest": "crossbox.guest", "shared": "crossbox.shared", "bench": "bench"}


def module_files() -> dict[str, Path]:
    out = {}
    for directory, package in PACKAGES.items():
        for path in sorted((REPO / directory).rglob("*.py")):
            rel = path.relative_to(REPO / directory).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([package, *parts])] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for named in targets:
                # The longest known module that the name names (a name may be an attribute).
                target = named
                while target and target not in files:
                    target = target.rpartition(".")[0]
                # Importing one's own package (its parent) is done before the module runs.
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles_lazy_imports_included() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(("side", "forbidden"), [
    ("crossbox.shared", ("crossbox.host", "crossbox.guest")),
    ("crossbox.guest", ("crossbox.host",)),
    ("crossbox.host", ("crossbox.guest",)),
])
def test_dependencies_point_one_way(side: str, forbidden: tuple[str, ...]) -> None:
    bad = {(src, dst) for src, dsts in import_graph().items() if src.startswith(side)
           for dst in dsts if dst.startswith(forbidden)}
    assert not bad


def test_the_guest_and_shared_use_the_standard_library_only() -> None:
    files = module_files()
    import sys

    allowed = set(sys.stdlib_module_names) | {"crossbox", "__future__"}
    for name, path in files.items():
        if not name.startswith(("crossbox.guest", "crossbox.shared")):
            continue
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            roots = [a.name.split(".")[0] for a in node.names] if isinstance(node, ast.Import) \
                else [(node.module or "").split(".")[0]]
            assert set(roots) <= allowed, f"{name} imports {roots}"


def test_each_verb_has_its_module_and_cli_only_dispatches() -> None:
    from crossbox.host import cli, parser

    verbs = set(next(a for a in parser.build_parser()._actions if a.dest == "verb").choices)  # type: ignore[union-attr]
    assert set(cli.VERBS) == verbs
    for module in cli.VERBS.values():
        assert (REPO / "host" / "commands" / f"{module}.py").exists()


def test_the_readme_layout_names_every_module() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for name, path in module_files().items():
        if path.name in ("__init__.py", "__main__.py") or name.startswith("bench"):
            continue
        assert re.search(rf"`{re.escape(path.stem)}`", layout), f"{name} is not in the README's layout table"


def test_the_readme_exit_table_is_the_declared_one() -> None:
    from crossbox.host.errors import exit_table_markdown

    assert exit_table_markdown() in (REPO / "README.md").read_text(encoding="utf-8")

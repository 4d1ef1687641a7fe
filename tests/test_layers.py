"""The layers of the project: the core (``benchmark``) never imports a built-in plugin, and no
two of the project's modules import each other, directly or through others, at any scope (imports
under ``if TYPE_CHECKING:`` are not run and do not count)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("benchmark", "plugins")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _targets(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix for alias in node.names]


def _owner(name: str) -> str | None:
    """The project module ``name`` refers to (a module, or a name inside one), if any."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        skipped = _type_checking_nodes(tree)
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                for target in _targets(module, node, path.name == "__init__.py"):
                    owner = _owner(target)
                    if owner and owner != module:
                        deps.add(owner)
        graph[module] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_core_never_imports_a_plugin():
    graph = import_graph()
    offending = sorted(f"{m} -> {d}" for m, deps in graph.items() if m.startswith("benchmark")
                       for d in deps if d.split(".")[0] == "plugins")
    assert not offending, offending


def test_no_import_cycle_among_the_projects_modules():
    assert not cycles(import_graph())


def test_the_guard_sees_lazy_imports_and_cycles():
    # the checker itself: a cycle through a function-level import is found, a TYPE_CHECKING one is not
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\ndef f():\n    import y\n")
    skipped = _type_checking_nodes(tree)
    lazy = [n.names[0].name for n in ast.walk(tree) if isinstance(n, ast.Import) and id(n) not in skipped]
    assert lazy == ["y"]


#: the size rule of the core, unless a comment starting ``# size:`` in the function (or at the
#: top of the module) says why it is larger
MAX_FUNCTION_LINES, MAX_MODULE_LINES = 60, 400


def _excused(lines: list[str], first: int, last: int) -> bool:
    return any(line.strip().startswith("# size:") for line in lines[first - 1:last])


def test_core_functions_and_modules_stay_small():
    too_long = []
    for name, path in MODULES.items():
        if not name.startswith("benchmark"):
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES and not _excused(lines, 1, 30):
            too_long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and not _excused(lines, node.lineno, node.end_lineno):
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "over the size rule (split, or say why in a '# size:' comment):\n" + "\n".join(too_long)

"""vidact's modules import downwards only, and no two import each other (even inside functions).

Layers, lowest first: the leaves (io, sampling, config, errors, registry, progress, plots,
version) < data < models < training < evaluation and inference < web and demo < cli < the
package's façade (``vidact``, ``vidact.__main__``). A module may import its own layer or lower.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "vidact"
LAYERS = {
    **dict.fromkeys(
        ("io", "sampling", "config", "errors", "registry", "progress", "plots", "version"), 0
    ),
    "data": 1,
    "models": 2,
    "training": 3,
    "evaluation": 4,
    "inference": 4,
    "web": 5,
    "demo": 5,
    "cli": 6,
    "": 7,  # vidact itself: load() and the command's entry point
    "__main__": 7,
}


def imports(source: Path, package: str = "vidact") -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere (module level, functions, type
    checking blocks), ``from package.x import y`` counted as importing ``package.x.y`` when
    that is a module."""
    modules = {_name(path, source, package): path for path in source.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [
                    f"{node.module}.{alias.name}"
                    if f"{node.module}.{alias.name}" in modules
                    else node.module
                    for alias in node.names
                ]
            else:
                continue
            found.update(t for t in targets if t.split(".")[0] == package and t != name)
    return graph


def _name(path: Path, source: Path, package: str) -> str:
    parts = [package, *path.relative_to(source).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(m, t) for m, targets in graph.items() for t in targets if layer(t) > layer(m)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_vidact_imports_downwards_and_in_no_circle() -> None:
    graph = imports(SOURCE)
    assert len(graph) > 60 and "vidact.inference.predictor" in graph
    assert all(len(m.split(".")) < 2 or m.split(".")[1] in LAYERS for m in graph), "new package?"
    assert cycles(graph) == []
    assert upward(graph) == set()


def test_a_planted_circle_or_upward_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "vidact"
    for folder in ("data", "models", "inference"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "data" / "index.py").write_text(
        "def late():\n    from vidact.models.heads import X\n"  # upward, inside a function
    )
    (package / "models" / "heads.py").write_text("from vidact.data import index\n")
    (package / "inference" / "a.py").write_text("import vidact.inference.b\n")
    (package / "inference" / "b.py").write_text("from vidact.inference.a import f\n")
    graph = imports(package)
    assert graph["vidact.models.heads"] == {"vidact.data.index"}
    assert upward(graph) == {("vidact.data.index", "vidact.models.heads")}
    assert sorted(cycles(graph)) == [
        ["vidact.data.index", "vidact.models.heads"],
        ["vidact.inference.a", "vidact.inference.b"],
    ]

"""No function outside the command modules (cli/) is longer than 80 lines: a longer one does
several jobs, which want names of their own (issue 19)."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "vidact"
MOST_LINES = 80


def long_functions(source: Path, most: int = MOST_LINES) -> list[str]:
    """``path:line name (N lines)`` of every function or method longer than ``most`` lines,
    outside ``cli/``."""
    found = []
    for path in sorted(source.rglob("*.py")):
        if "cli" in path.relative_to(source).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > most:
                    where = path.relative_to(source)
                    found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_outside_the_commands_is_longer_than_80_lines() -> None:
    assert long_functions(SOURCE) == []


def test_a_long_function_is_found(tmp_path: Path) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(MOST_LINES))
    (tmp_path / "long.py").write_text(f"def long():\n{body}")
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "command.py").write_text(f"def command():\n{body}")
    assert long_functions(tmp_path) == ["long.py:1 long (81 lines)"]

"""analytics/ is pure maths: it imports nothing from the project (STYLE.md §1)."""

import ast

from tests.conftest import REPO

PROJECT = ("collectors", "storage", "dashboard", "config", "simulator", "viralwatch", "benchmarks")


def test_analytics_imports_nothing_from_the_project():
    for path in sorted((REPO / "analytics").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(PROJECT), f"{path.relative_to(REPO)} imports {name}"

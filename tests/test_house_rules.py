"""Checks that keep the house rules (shared/STYLE.md) true as the code grows."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from collectors.registry import BUILTIN_COLLECTORS, collector_classes
from tests.conftest import REPO, SHARED_FIXTURES

PACKAGES = ("collectors", "storage", "dashboard", "config", "simulator", "viralwatch", "alerts")


def sources(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "migrations" not in p.parts)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_environment_is_read_only_by_the_cli():
    offenders = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in sources(package)
        if "os.environ" in path.read_text(encoding="utf-8") and path != REPO / "viralwatch/cli.py"
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("collectors", ("storage", "dashboard", "viralwatch", "simulator")),
        ("storage", ("dashboard", "viralwatch", "simulator", "alerts")),
        ("alerts", ("collectors", "dashboard", "viralwatch", "simulator")),
        ("dashboard", ("collectors.runner", "viralwatch", "simulator", "alerts")),
        ("config", ("collectors", "storage", "dashboard", "viralwatch", "simulator")),
        ("simulator", ("collectors", "storage", "dashboard", "viralwatch")),
    ],
)
def test_data_flows_one_way(package, forbidden):
    for path in sources(package):
        for module in imported_modules(path):
            assert not module.startswith(forbidden), f"{path.relative_to(REPO)} imports {module}"


def test_storage_imports_only_the_record_types_of_collectors():
    for path in sources("storage"):
        for module in imported_modules(path):
            if module.startswith("collectors"):
                assert module in ("collectors", "collectors.base"), f"{path} imports {module}"


def test_every_collector_is_registered_once_with_a_docstring():
    classes = collector_classes()
    assert len(classes) == len(BUILTIN_COLLECTORS)
    for name, cls in classes.items():
        module = importlib.import_module(cls.__module__)
        assert module.__doc__ and len(module.__doc__) > 300, f"{name}: module docstring too thin"
        assert cls.name == name == name.lower()
        assert callable(getattr(cls, "from_payload", None)), f"{name} has no from_payload"


def test_no_silenced_exceptions():
    for package in PACKAGES:
        for path in sources(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ExceptHandler) and len(node.body) == 1:
                    assert not isinstance(node.body[0], ast.Pass), f"silenced except in {path}"


def test_every_recorded_payload_is_used_by_a_test():
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not present")
    test_text = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").rglob("*.py"))
    unused = [
        str(path.relative_to(SHARED_FIXTURES))
        for path in sorted(SHARED_FIXTURES.rglob("*"))
        if path.is_file()
        and path.suffix in (".json", ".xml", ".html")
        and path.name not in test_text
    ]
    assert unused == [], f"recorded payloads no test reads: {unused}"


def test_collectors_come_in_the_listed_order_whatever_was_imported_first():
    names = list(collector_classes())
    modules = [importlib.import_module(m) for m in BUILTIN_COLLECTORS]
    listed = [
        cls
        for module in modules
        for cls in vars(module).values()
        if isinstance(cls, type)
        and getattr(cls, "__module__", "") == module.__name__
        and cls in collector_classes().values()
    ]
    assert names == [cls.name for cls in listed]
    assert names.index("youtube") < names.index("youtube_rss")

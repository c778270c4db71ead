"""Checks that keep the house rules (shared/STYLE.md) true as the code grows."""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from pathlib import Path

import pytest

from collectors.registry import BUILTIN_COLLECTORS, collector_classes, stored_platform
from tests.conftest import REPO, SHARED_FIXTURES

PACKAGES = (
    "collectors",
    "storage",
    "dashboard",
    "config",
    "simulator",
    "viralwatch",
    "alerts",
    "analytics",
)


def sources(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "migrations" not in p.parts)


def imported_modules(path: Path, top_level_only: bool = False) -> set[str]:
    """Project and third-party modules `path` imports; `from pkg import mod` counts as pkg.mod
    when mod is a module. `top_level_only`: what runs at import (not in functions or under
    TYPE_CHECKING), the imports that can form a cycle."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if (REPO / (submodule.replace(".", "/") + ".py")).is_file():
                    found.add(submodule)
    return found


def test_environment_is_read_only_by_the_cli():
    offenders = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in sources(package)
        if "os.environ" in path.read_text(encoding="utf-8") and path != REPO / "viralwatch/cli.py"
    ]
    assert offenders == []


# STYLE.md §1, data flowing one way: the project modules each package may import besides its
# own. A prefix allows a package and everything in it. The dashboard's one write path (the manage
# forms) goes through storage.write's sink; it imports no collector. Tests may import anything.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "config": (),
    "simulator": (),
    "collectors": ("config.settings", "config.redact"),
    "storage": ("collectors.base", "config.redact"),
    # Issue 11: the measures' rows (storage.measures_read) and their maths (analytics).
    "dashboard": (
        "storage.read",
        "storage.measures_read",
        "storage.write",
        "storage.alert_store",
        "storage.alert_rules",
        "config.settings",
        "analytics",
        "storage.health",
        "storage.budgets",  # issue 8: budget use on the collectors table (a read)
    ),
    "analytics": (),
    # Alerts read what storage holds and the settings; they never see a collector or a page.
    "alerts": (
        "storage.read",
        "storage.measures_read",
        "storage.alert_store",
        "storage.alert_rules",
        "config.settings",
        "analytics",
    ),
    "viralwatch": ("collectors", "storage", "dashboard", "config", "simulator", "alerts"),
    "benchmarks": (
        "collectors",
        "storage",
        "dashboard",
        "config",
        "simulator",
        "viralwatch",
        "analytics",
        "alerts",
    ),
}


def project_packages() -> list[str]:
    return sorted(
        p.name for p in REPO.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"
    )


def test_every_package_has_a_place_in_the_import_rules():
    assert project_packages() == sorted(MAY_IMPORT)


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_data_flows_one_way(package):
    project = set(project_packages())
    allowed = MAY_IMPORT[package]
    for path in sources(package):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top not in project or top == package or module in ("collectors", "storage"):
                continue
            ok = any(module == a or module.startswith(a + ".") for a in allowed)
            assert ok, f"{path.relative_to(REPO)} imports {module}"


def test_the_dashboard_imports_no_collector():
    # Issue 15: records and platform metadata reach it through storage and create_app.
    for path in sources("dashboard"):
        assert not any(m.startswith("collectors") for m in imported_modules(path)), path


def test_no_import_cycles_between_modules():
    graph: dict[str, set[str]] = {}
    for package in project_packages():
        for path in sources(package):
            module = ".".join(path.relative_to(REPO).with_suffix("").parts)
            graph[module.removesuffix(".__init__")] = imported_modules(path, top_level_only=True)
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            module, trail = stack.pop()
            for target in graph.get(module, ()):
                assert target != start, f"import cycle: {' -> '.join((*trail, target))}"
                if target in graph and target not in seen:
                    seen.add(target)
                    stack.append((target, (*trail, target)))


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


def test_no_function_over_80_lines_outside_the_simulator():
    # STYLE.md §1 "keep it simple"; the simulator's route tables and frozen migrations excepted.
    # The tests and scripts count too: a fixture that seeds a whole story is read like code.
    long = []
    for package in [*project_packages(), "tests", "scripts"]:
        if package == "simulator":
            continue
        for path in sources(package):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > 80:
                        long.append(f"{path.relative_to(REPO)}:{node.name} ({lines} lines)")
    assert long == []


def comment_density(path: Path) -> tuple[int, int]:
    """(comment lines, code lines) of a module: docstrings and blank lines are neither."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            for statement in node.body:
                value = getattr(statement, "value", None)
                if isinstance(statement, ast.Expr) and isinstance(value, ast.Constant):
                    end = statement.end_lineno or statement.lineno
                    docstrings.update(range(statement.lineno, end + 1))
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    comments = {t.start[0] for t in tokens if t.type == tokenize.COMMENT}
    code = sum(
        1
        for number, line in enumerate(source.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith("#") and number not in docstrings
    )
    return len(comments), code


@pytest.mark.parametrize("package", project_packages())
def test_each_package_explains_itself_in_comments(package):
    # STYLE.md §8: comments say why (a quirk, a quota, an invariant), about 5 per 100 lines;
    # below 3 a package leaves its reader guessing (issue 15). Frozen migrations excepted.
    comments = code = 0
    for path in sources(package):
        found, lines = comment_density(path)
        comments, code = comments + found, code + lines
    assert 100 * comments / code >= 3, f"{package}: {100 * comments / code:.1f} per 100 lines"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_says_what_it_owns_and_may_import(package):
    doc = ast.get_docstring(ast.parse((REPO / package / "__init__.py").read_text("utf-8")))
    assert doc and "may import" in doc.lower(), package


def test_the_counter_list_is_written_once():
    # Issue 15: records, storage columns and dashboard metrics all follow collectors.base.
    from dataclasses import fields

    from collectors.base import COUNTERS, Observation
    from dashboard.series import METRICS
    from storage import models

    counters = [f.name for f in fields(Observation) if f.type == "int | None"]
    assert counters == list(COUNTERS)
    assert all(hasattr(models.Observation, c) for c in COUNTERS)
    assert all(hasattr(models.Post, f"latest_{c}") for c in COUNTERS)
    assert METRICS == COUNTERS
    for cls in collector_classes().values():
        assert set(cls.spec.counters) <= set(COUNTERS), cls.name


def test_each_collector_declares_what_the_house_reads_of_it():
    from collectors.base import Collector

    for name, cls in collector_classes().items():
        for member in Collector.__annotations__:
            assert hasattr(cls, member), f"{name} does not declare {member}"
        assert stored_platform(cls) in collector_classes(), (
            f"{name} stores posts under an unknown platform"
        )
        assert cls.spec.default_interval.total_seconds() >= 60, name
        assert all(q.requests > 0 and q.per.total_seconds() > 0 for q in cls.spec.quotas), name


def _named_in_docstring(doc: str, package: str) -> set[Path]:
    """The modules a docstring names: `x.py` in its package, `pkg/x.py` from the top."""
    found = re.findall(r"(?<![\w/.])((?:[a-z_]+/)*[a-z_]+\.py)\b", doc)
    return {REPO / name if "/" in name else REPO / package / name for name in found}


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_each_package_docstring_matches_its_rules_and_files(package):
    # The docstring is the first thing a newcomer reads: what it names must exist, and what the
    # import table allows must be said there (a prefix said covers its modules).
    doc = ast.get_docstring(ast.parse((REPO / package / "__init__.py").read_text("utf-8")))
    assert doc
    may = doc[doc.lower().index("may import") :]
    if "every" not in may.split(".")[0]:
        for allowed in MAY_IMPORT[package]:
            assert re.search(rf"\b{re.escape(allowed)}\b", may), f"{package}: say {allowed}"
    for path in _named_in_docstring(doc, package):
        assert path.exists(), f"{package}/__init__.py names {path.relative_to(REPO)}"


def how_it_is_built() -> dict[str, set[str]]:
    """What the README's "How it is built" block names under each package."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("## How it is built", 1)[1].split("```")[1]
    named: dict[str, set[str]] = {}
    package = ""
    for line in block.strip().splitlines():
        if not line.startswith(" "):
            package, line = line.split("/", 1)
        named.setdefault(package, set()).update(
            re.findall(r"(?<![\w/.])([a-z_*][a-z_*.]*\.(?:py|toml|service)|[a-z_]+/)", line)
        )
    return named


def test_the_readme_layout_matches_the_tree():
    named = how_it_is_built()
    assert sorted(named) == project_packages()
    per_platform = {m.rsplit(".", 1)[1] for m in BUILTIN_COLLECTORS} | set(collector_classes())
    for package, names in named.items():
        folder = REPO / package
        for name in names:
            assert list(folder.glob(name)), f"README names {package}/{name}, which is not there"
        listed = {p.name for name in names for p in folder.glob(name)}
        for path in folder.glob("*.py"):
            if path.name == "__init__.py" or path.name in listed:
                continue
            # "one module per platform" stands for the collectors' and the simulator's.
            platform = package in ("collectors", "simulator") and path.stem in per_platform
            assert platform, f"{package}/{path.name} is missing from the README's layout"


def test_the_readme_names_every_dashboard_router():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    areas = re.search(r"routes/ \(([^:]+):", readme.split("## How it is built", 1)[1])
    assert areas
    said = {a.strip() for a in " ".join(areas.group(1).split()).split(",")}
    routers = {p.stem for p in (REPO / "dashboard/routes").glob("*.py")} - {"__init__"}
    assert said == routers


def test_config_keeps_a_checked_copy_of_the_counter_list():
    # config/ imports nothing from the project, so it spells the counters out; they must agree.
    from collectors.base import COUNTERS
    from config.settings import COUNTER_NAMES

    assert COUNTER_NAMES == COUNTERS

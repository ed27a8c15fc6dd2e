"""The house rules of design.md that import-linter does not check by itself: no import cycle
between any two project modules (function-level imports counted), routers and pages that
run no query, rooms of a readable size, and pure tests that never import the app."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "devices", "recall", "routing", "api", "migrations")
# Modules that answer HTTP: they call their room's service or repository, never the database.
HTTP_MODULES = ("*/router.py", "*/*/router.py", "api/links.py", "api/pages/*/routes.py")
QUERY_CALLS = {"execute", "scalar", "scalars", "get", "get_one", "query"}
MAX_LINES, MIN_LINES = 400, 30
# Tests of pure cores: they must run without the app, the web framework or a database.
PURE_TESTS = (
    "tests/routing/engine",
    "tests/recall/detection/test_statistics.py",
    "tests/recall/detection/test_sequential.py",
    "tests/recall/detection/test_rates.py",
)


def _modules() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" not in path.parts:
                yield path


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_between_project_modules() -> None:
    # grimp reads every import statement of a module, those inside functions included.
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert len(graph.modules) > 50
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    for importer, imported in (("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")):
        graph.add_import(importer=importer, imported=imported)
    assert _cycles(graph) == [["a", "b", "c"]]


def test_routers_and_pages_run_no_query() -> None:
    offenders = []
    for pattern in HTTP_MODULES:
        for path in sorted(ROOT.glob(pattern)):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy":
                    offenders += [f"{path.name}: imports {a.name}" for a in node.names]
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "session"
                    and node.func.attr in QUERY_CALLS
                ):
                    offenders.append(
                        f"{path.relative_to(ROOT)}:{node.lineno}: session.{node.func.attr}"
                    )
    assert offenders == []


def test_no_module_is_too_long_or_a_room_of_a_few_lines() -> None:
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in _modules()}
    assert len(sizes) > 50
    too_long = {name: n for name, n in sizes.items() if n > MAX_LINES}
    too_short = {
        name: n for name, n in sizes.items() if n < MIN_LINES and not name.endswith("__init__.py")
    }
    assert too_long == {} and too_short == {}


def test_the_pure_tests_run_without_the_app() -> None:
    # Collecting imports every test module and conftest; a fresh interpreter shows what that
    # pulled in.
    probe = (
        "import sys, pytest\n"
        f"code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', *{PURE_TESTS!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('api', 'fastapi'))\n"
        "print('LOADED', loaded)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests collected" in done.stdout or "test collected" in done.stdout
    assert "LOADED []" in done.stdout, done.stdout[-2000:]

"""The shape of the code: the import contracts hold, no import goes round a cycle, SQL stays in storage.

- The contracts live in pyproject.toml ([tool.importlinter]); `lint-imports` checks them here and in CI.
- Cycles are looked for module by module with grimp, counting every import: at module level, inside
  functions and under TYPE_CHECKING (each one is a real dependency, and a lazy import is how a cycle hides).
- SQL is the storage package's business: a string constant in bot/ or sentiment/ that reads like SQL fails.
"""

from __future__ import annotations

import ast
import itertools
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass

import grimp
import pytest

from tests.support import REPO as REPO_DIR

REPO = REPO_DIR
PACKAGES = ("bot", "sentiment", "storage")
# Where SQL must not be written (storage/ is where it lives).
SQL_FREE = ("bot", "sentiment")
# The rooms that may import python-telegram-bot.
PTB_ROOMS = {"bot.telegram", "bot.cli"}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


# -- import contracts ----------------------------------------------------------------------------------------


def test_import_contracts_are_kept() -> None:
    run = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run(
        [sys.executable, "-c", run, "--no-cache"],  # reads pyproject.toml in cwd
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout.split("Broken contracts")[-1] if "Broken contracts" in result.stdout else ""
    assert result.returncode == 0, f"lint-imports failed:\n{report or result.stdout}{result.stderr}"


def test_ptb_contract_names_every_room_but_telegram_and_cli(graph: grimp.ImportGraph) -> None:
    """A new room is covered by the python-telegram-bot contract as soon as it exists."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    sources = set(contracts["ptb-in-telegram-room"]["source_modules"])
    expected = (graph.find_children("bot") - PTB_ROOMS) | {"sentiment", "storage"}
    assert expected - sources == set(), "add these to the ptb-in-telegram-room contract in pyproject.toml"
    assert sources & PTB_ROOMS == set()


# -- import cycles -------------------------------------------------------------------------------------------


def find_cycles(graph: grimp.ImportGraph, packages: Iterable[str]) -> list[list[str]]:
    """One cycle per group of modules that import each other round (a strongly connected component),
    as ``[a, b, ..., a]``; only modules inside *packages* count."""
    roots = tuple(packages)
    modules = sorted(m for m in graph.modules if m.split(".")[0] in roots)
    inside = set(modules)
    imports = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
    # Tarjan's algorithm, iterative so a deep import chain cannot hit the recursion limit.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            module, child = work.pop()
            if child == 0:
                index[module] = low[module] = len(index)
                stack.append(module)
                on_stack.add(module)
            targets = imports[module]
            if child < len(targets):
                work.append((module, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1 or module in imports[module]:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
    cycles = []
    for component in sorted(components):
        first = component[0]
        if first in imports[first]:
            cycles.append([first, first])
            continue
        # Back to the first module from the first module it imports: the shortest way round.
        following = next(m for m in imports[first] if m in component)
        chain = graph.find_shortest_chain(importer=following, imported=first)
        assert chain is not None
        cycles.append([first, *chain])
    return cycles


def describe_cycle(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    """``a (l.3) -> b (l.10) -> a``: each arrow's first line number in the importing module."""
    parts = []
    for importer, imported in itertools.pairwise(cycle):
        details = graph.get_import_details(importer=importer, imported=imported)
        lines = sorted(detail["line_number"] for detail in details)
        parts.append(f"{importer} (l.{lines[0]})" if lines else importer)
    return " -> ".join([*parts, cycle[-1]])


def test_find_cycles_names_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "other"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b", line_number=3, line_contents="import pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c", line_number=4, line_contents="import pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a", line_number=5, line_contents="import pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.d", line_number=6, line_contents="import pkg.d")
    graph.add_import(importer="pkg.d", imported="other", line_number=7, line_contents="import other")
    graph.add_import(importer="other", imported="pkg.d", line_number=8, line_contents="import pkg.d")

    cycles = find_cycles(graph, ["pkg"])

    assert cycles == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    assert describe_cycle(graph, cycles[0]) == "pkg.a (l.3) -> pkg.b (l.4) -> pkg.c (l.5) -> pkg.a"
    assert find_cycles(graph, ["pkg", "other"]) == [["other", "pkg.d", "other"], cycles[0]]


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    cycles = [describe_cycle(graph, cycle) for cycle in find_cycles(graph, PACKAGES)]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


# -- SQL outside storage -------------------------------------------------------------------------------------

SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b"
    r"|\bINSERT\s+INTO\b"
    r"|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b"
    r"|\bCREATE\s+(?:TABLE|INDEX)\b",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class SqlString:
    path: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {' '.join(self.text.split())[:80]}"


def find_sql(source: str, path: str) -> list[SqlString]:
    """String constants in *source* that read like SQL. Docstrings are prose and not read; an f-string counts
    as its literal parts joined round a placeholder (``f"SELECT {x} FROM t"`` is SQL)."""
    tree = ast.parse(source, filename=path)
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found: list[SqlString] = []
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            # A placeholder that reads as a name: f"UPDATE {table} SET" is still an UPDATE.
            parts = [v.value if isinstance(v, ast.Constant) else "_" for v in node.values]
            text = "".join(str(part) for part in parts)
            skip.update(id(v) for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in skip or id(node) in docstrings:
                continue
            text = node.value
        else:
            continue
        if SQL.search(text):
            found.append(SqlString(path, node.lineno, node.col_offset, text))
    return sorted(found, key=lambda s: (s.line, s.column))


def test_find_sql_finds_sql_and_only_sql() -> None:
    snippet = '''
"""Module docstring: SELECT name FROM customers is prose here."""
QUERY = "SELECT id FROM touchpoints WHERE key = ?"
MULTI = """
    select a.id,
           a.text
    from answers as a
"""
WRITE = f"INSERT INTO answers (text) VALUES ({'?'})"
TEMPLATE = f"SELECT {'x'} FROM {'t'}"


def update(table):
    """Docstring: UPDATE surveys SET status is prose too."""
    return f"update {table} set done = 1", "DELETE   FROM alerts", "create index ix on t (a)"


LABEL = "Thanks! We will update you soon."
SELECTED = "selected"
'''
    found = find_sql(snippet, "snippet.py")

    assert [(s.line, s.text.split()[0].upper()) for s in found] == [
        (3, "SELECT"),
        (4, "SELECT"),
        (9, "INSERT"),
        (10, "SELECT"),
        (15, "UPDATE"),
        (15, "DELETE"),
        (15, "CREATE"),
    ]
    assert str(found[0]) == "snippet.py:3: SELECT id FROM touchpoints WHERE key = ?"


def test_no_sql_outside_storage() -> None:
    found = [
        str(sql)
        for package in SQL_FREE
        for path in sorted((REPO / package).rglob("*.py"))
        for sql in find_sql(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert found == [], "SQL belongs in storage/ (add a function there):\n" + "\n".join(found)

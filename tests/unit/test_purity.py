"""The domain and the rule engine are pure: no I/O libraries, no file access, no clock reads.

DESIGN.md: "`domain` and `engine` never import I/O libraries"; the engine is
`(rules, state, fixes, now) -> (state', events)` with no clock reads. Checked on the source
with `ast`, so a forbidden import is caught even inside a function or a TYPE_CHECKING block.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import tagwatch

PACKAGE = Path(tagwatch.__file__).parent
PURE_PACKAGES = ("domain", "engine")

IO_MODULES = frozenset(
    {
        "sqlite3",
        "sqlalchemy",
        "fastapi",
        "starlette",
        "nats",
        "psycopg",
        "psycopg2",
        "asyncpg",
        "socket",
        "ssl",
        "asyncio",
        "httpx",
        "requests",
        "aiohttp",
        "aiomqtt",
        "paho",
        "urllib",
        "urllib3",
        "http",
        "os",
        "subprocess",
        "pathlib",
        "io",
        "shutil",
        "tempfile",
        "glob",
        "shelve",
        "multiprocessing",
        "select",
        "selectors",
    }
)
# Reading a clock makes the engine impure (DESIGN: "no clock reads"): `now` is an argument.
CLOCK_CALLS = frozenset({"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"})
TIME_FUNCTIONS = frozenset(
    {"time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns"}
)
IO_BUILTINS = frozenset({"open", "input", "print", "breakpoint", "exec", "eval", "__import__"})


def modules_of(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


PURE_MODULES = [path for package in PURE_PACKAGES for path in modules_of(package)]
ENGINE_MODULES = modules_of("engine")


def module_id(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


@dataclass(frozen=True)
class Finding:
    line: int
    what: str


def imported_roots(tree: ast.AST) -> list[Finding]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Finding(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Finding(node.lineno, node.module))
    return found


def io_imports(tree: ast.AST) -> list[Finding]:
    return [f for f in imported_roots(tree) if f.what.split(".")[0] in IO_MODULES]


def io_builtin_calls(tree: ast.AST) -> list[Finding]:
    return [
        Finding(node.lineno, f"{node.func.id}()")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in IO_BUILTINS
    ]


def clock_reads(tree: ast.AST) -> list[Finding]:
    """datetime.now(), date.today(), time.time() and the like, however imported."""
    found = []
    time_aliases = {"time"}  # `import time` / `import time as t`
    bare_clock_names: set[str] = set()  # `from time import time, monotonic`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            time_aliases |= {a.asname or a.name for a in node.names if a.name == "time"}
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [
                Finding(node.lineno, f"from time import {a.name}")
                for a in node.names
                if a.name in TIME_FUNCTIONS
            ]
            bare_clock_names |= {a.asname or a.name for a in node.names if a.name in TIME_FUNCTIONS}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            time_module_call = (
                func.attr in TIME_FUNCTIONS
                and isinstance(func.value, ast.Name)
                and func.value.id in time_aliases
            )
            if func.attr in CLOCK_CALLS or time_module_call:
                found.append(Finding(node.lineno, f"{ast.unparse(func)}()"))
        elif isinstance(func, ast.Name) and func.id in bare_clock_names:
            found.append(Finding(node.lineno, f"{func.id}()"))
    return found


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_pure_packages_have_modules_to_check() -> None:
    names = {module_id(p) for p in PURE_MODULES}
    assert "tagwatch/engine/core.py" in names
    assert "tagwatch/engine/machine.py" in names
    assert "tagwatch/domain/zones.py" in names


@pytest.mark.parametrize("path", PURE_MODULES, ids=module_id)
def test_domain_and_engine_modules_import_no_io_library(path: Path) -> None:
    assert io_imports(parse(path)) == []


@pytest.mark.parametrize("path", PURE_MODULES, ids=module_id)
def test_domain_and_engine_modules_open_no_files(path: Path) -> None:
    assert io_builtin_calls(parse(path)) == []


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=module_id)
def test_engine_modules_never_read_the_clock(path: Path) -> None:
    assert clock_reads(parse(path)) == []


@pytest.mark.parametrize("path", PURE_MODULES, ids=module_id)
def test_domain_and_engine_import_nothing_from_the_outer_layers(path: Path) -> None:
    layers = ("store", "log", "api", "gateways", "service", "web", "sim", "cli", "protocols")
    outer = tuple(f"tagwatch.{layer}" for layer in layers)
    assert [f for f in imported_roots(parse(path)) if f.what.startswith(outer)] == []


@pytest.mark.parametrize("path", modules_of("domain"), ids=module_id)
def test_the_domain_imports_no_engine_and_no_numerical_library(path: Path) -> None:
    heavy = ("tagwatch.engine", "numpy", "shapely", "pyproj")
    assert [f for f in imported_roots(parse(path)) if f.what.startswith(heavy)] == []


# --- the checks themselves catch what they are meant to ---

IMPURE = """
import os
import socket as s
from pathlib import Path
from sqlalchemy.orm import Session
from time import monotonic
import time as clock
from datetime import datetime, date

def f():
    import asyncio
    with open("x") as fh:
        pass
    datetime.now()
    datetime.utcnow()
    date.today()
    clock.time()
    monotonic()
"""

PURE = """
from datetime import datetime, time, timedelta
from tagwatch.domain.positions import Fix

def f(now: datetime) -> datetime:
    start = time(19)
    return now + timedelta(hours=start.hour)
"""


def test_the_checks_find_io_imports_file_access_and_clock_reads() -> None:
    tree = ast.parse(IMPURE)
    assert sorted(f.what for f in io_imports(tree)) == [
        "asyncio",
        "os",
        "pathlib",
        "socket",
        "sqlalchemy.orm",
    ]
    assert [f.what for f in io_builtin_calls(tree)] == ["open()"]
    assert sorted(f.what for f in clock_reads(tree)) == [
        "clock.time()",
        "date.today()",
        "datetime.now()",
        "datetime.utcnow()",
        "from time import monotonic",
        "monotonic()",
    ]


def test_the_checks_accept_pure_code_using_datetime_time() -> None:
    tree = ast.parse(PURE)
    assert io_imports(tree) == []
    assert io_builtin_calls(tree) == []
    assert clock_reads(tree) == []

"""House rules of the package: no import cycles, no file over 400 lines, analyses without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "transfer_atlas"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """transfer_atlas modules imported anywhere in `path` (module level and inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in modules}
    return found - {module_name(path)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt, stack + [nxt])):
                return cycle
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [node])):
            return cycle
    return None


def test_find_cycle_on_a_hand_graph():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles_between_package_modules():
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    graph = {}
    for path in files:
        # a package's __init__ is imported by its submodules implicitly: count only real edges
        graph[module_name(path)] = imports_of(path, modules)
    assert find_cycle(graph) is None


def test_no_file_over_400_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}


@pytest.mark.parametrize(
    "module",
    [
        "transfer_atlas.analysis.pca",
        "transfer_atlas.analysis.transfer_roles.regimes",
        "transfer_atlas.analysis.summary",
    ],
)
def test_analysis_jobs_do_not_import_torch(module):
    code = (
        "import sys, types; from transfer_atlas import runtime; import importlib; "
        f"importlib.import_module('{module}'); runtime.setup(types.SimpleNamespace(log=[], threads=1, rule='x', resources=types.SimpleNamespace(gpu=0))); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

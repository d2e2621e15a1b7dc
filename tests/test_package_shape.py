"""The package's shape, read from the source with ast: no import cycles among comp's modules
(imports inside functions count too), no module over 300 lines, and no function over 50 lines
unless a ``# long: <why>`` comment inside it says why."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "comp"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 50


def modules(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (packages by their __init__)."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``from a import b`` names a.b where that is a module)."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, module, path.name == "__init__.py")
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                # a package's own __init__ (the root's too) holds no code that imports back
                if target and target != module and not module.startswith(target + "."):
                    edges[module].add(target)
    return edges


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return cycles


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions over ``limit`` lines (decorators excluded) without a ``# long:`` comment inside."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            body = lines[node.lineno - 1:node.end_lineno]
            if length > limit and not any(line.strip().startswith("# long:") for line in body):
                out.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    return out


def test_the_package_has_no_import_cycle():
    assert find_cycles(import_graph(modules())) == []


def test_no_module_is_over_300_lines():
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    assert {m: n for m, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_no_function_is_over_50_lines_without_saying_why():
    assert [f for p in modules().values() for f in long_functions(p)] == []


# --------------------------------------------------------------------------- the checks themselves


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return modules(tmp_path, "pkg")


@pytest.mark.parametrize("a_imports", ["from pkg.b import f", "from pkg import b", "import pkg.b",
                                       "def g():\n    from .b import f\n"])
def test_a_cycle_is_found_whatever_the_import_form(tmp_path, a_imports):
    mods = _package(tmp_path, {"__init__.py": "", "a.py": a_imports + "\n", "b.py": "from pkg.a import g\n"})
    assert find_cycles(import_graph(mods)) == [["pkg.a", "pkg.b"]]


def test_a_chain_is_not_a_cycle(tmp_path):
    mods = _package(tmp_path, {"__init__.py": "", "a.py": "from pkg.b import f\n", "b.py": "from pkg.c import h\n",
                               "c.py": "import os\n", "sub/__init__.py": "from pkg.sub import d\n",
                               "sub/d.py": "from pkg.a import g\n"})
    assert find_cycles(import_graph(mods)) == []


def test_a_long_function_needs_its_comment(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(55))
    path = tmp_path / "m.py"
    path.write_text(f"def f():\n{body}\n")
    assert long_functions(path) == ["m.py:1 f (56 lines)"]
    path.write_text(f"def f():\n    # long: one table of 55 entries\n{body}\n")
    assert long_functions(path) == []

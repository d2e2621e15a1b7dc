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


# --------------------------------------------------------------------------- the docs name every module

ROOT = SRC.parent
MAX_TOP_LEVEL_MODULES = 14


def design_table_modules(text: str) -> set[str]:
    """The modules docs/design.md's "Modules" table names: every backticked name in its rows' first
    cells, given the ``comp.`` prefix (``comp`` itself is the root package)."""
    section = text.split("\n### Modules\n", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(line.split("|")[1].split("`")[1::2])
    return {name if name == PACKAGE else f"{PACKAGE}.{name}" for name in names}


def layout_tree(text: str) -> set[str]:
    """The paths under src/comp/ that README.md's "## Layout" tree names (``config/``,
    ``config/spec.py``, ``errors.py``), read from its indentation."""
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```", 2)[1]
    named, parents = set(), []
    for line in block.splitlines():
        if "── " not in line:
            continue
        depth = (line.index("── ") - 1) // 4
        name = line.split("── ", 1)[1].split()[0]
        parents = parents[:depth] + [name]
        named.add("".join(parents))
    return named


def test_the_design_module_table_names_every_module_and_no_other():
    documented = design_table_modules((ROOT / "docs" / "design.md").read_text(encoding="utf-8"))
    real = set(modules())
    assert {"missing": sorted(real - documented), "gone": sorted(documented - real)} == {"missing": [], "gone": []}


def test_the_readme_layout_names_every_package_and_top_level_module():
    named = layout_tree((ROOT / "README.md").read_text(encoding="utf-8"))
    top = SRC / PACKAGE
    wanted = {f"{p.name}/" for p in top.iterdir() if (p / "__init__.py").is_file()}
    wanted |= {p.name for p in top.glob("*.py") if p.name != "__init__.py"}
    assert sorted(wanted - named) == []
    assert sorted(n for n in named if not (top / n).exists()) == []  # no name the code no longer has


def test_the_top_level_holds_at_most_14_modules():
    top_level = sorted(p.name for p in (SRC / PACKAGE).glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level


def test_the_doc_readers_read_what_they_should():
    design = ("## 1. x\n\n### Modules\n\n| module | owns |\n|---|---|\n| `comp` (package) | v |\n"
              "| `a.b` | `not_a_module` |\n\n## 2. y\n| `c` | z |\n")
    assert design_table_modules(design) == {"comp", "comp.a.b"}
    readme = ("# x\n\n## Layout\n\n```\nsrc/comp/\n├── a/        x\n│   ├── b.py    y\n│   └── c.py\n"
              "└── d.py      z\n```\n\n## Next\n")
    assert layout_tree(readme) == {"a/", "a/b.py", "a/c.py", "d.py"}

"""The package's shape: import arrows point one way, no cycles, every package installed.

Floors, top to bottom, are declared once, in the ``floors`` block of ``docs/layout.md``
(``fastbuild.cli`` -> ``fastbuild.commands`` -> ... -> ``fastbuild_kernels``);
:func:`test_every_import_follows_the_declared_floors` checks every import edge against it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"fastbuild": REPO / "fastbuild", "fastbuild_kernels": REPO / "kernels"}


def _modules() -> dict[str, Path]:
    out = {}
    for top, folder in ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(name: str, path: Path) -> set[str]:
    """Project modules imported anywhere in a module (also inside functions; not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node):
        if isinstance(node, ast.If) and _is_type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            subs = {f"{base}.{a.name}" for a in node.names} & MODULES.keys()
            found.update(subs)  # ``from pkg import module``: the module, not the package
            if len(subs) < len(node.names):
                found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in GRAPH[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


LAYOUT_DOC = REPO / "docs" / "layout.md"


def declared_floors(text: str) -> list[tuple[str, list[str]]]:
    """``[(floor, [module prefix, ...]), ...]`` top to bottom, from the ```floors block of docs/layout.md."""
    block = re.search(r"^```floors[ \t]*\n(.*?)^```", text, re.M | re.S)
    assert block, "docs/layout.md has no ```floors block"
    floors = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, prefixes = line.partition(":")
            assert sep and prefixes.split(), f"docs/layout.md: bad floor line {line!r} (want 'name: prefixes')"
            floors.append((name.strip(), prefixes.split()))
    return floors


FLOORS = declared_floors(LAYOUT_DOC.read_text())


def floor_of(module: str) -> int | None:
    """Index (0 = top) of the floor whose longest prefix matches ``module``; None when none does.

    ``pkg.__init__`` matches the package module ``pkg`` alone; any other prefix matches itself
    and its submodules."""
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(FLOORS):
        for p in prefixes:
            if p.endswith(".__init__"):
                hit, size = module == p[: -len(".__init__")], len(p)
            else:
                hit, size = module == p or module.startswith(p + "."), len(p)
            if hit and size > best_len:
                best, best_len = i, size
    return best


def test_floor_declaration_is_well_formed():
    names = [name for name, _ in FLOORS]
    prefixes = [p for _, ps in FLOORS for p in ps]
    assert len(names) == len(set(names)), f"a floor is declared twice: {names}"
    assert len(prefixes) == len(set(prefixes)), "a module prefix is on two floors"
    assert all(p.split(".")[0] in ROOTS for p in prefixes), f"prefixes outside {sorted(ROOTS)}"


def test_every_module_is_on_a_floor():
    homeless = sorted(m for m in MODULES if floor_of(m) is None)
    assert not homeless, f"modules on no floor of docs/layout.md (add them to the floors block): {homeless}"


def test_every_import_follows_the_declared_floors():
    """A module imports only its own floor or floors below (docs/layout.md); every edge is checked."""
    broken = []
    for module, deps in sorted(GRAPH.items()):
        here = floor_of(module)
        for dep in sorted(deps):
            there = floor_of(dep)
            if here is not None and there is not None and there < here:
                broken.append(f"{module} ({FLOORS[here][0]}) -> {dep} ({FLOORS[there][0]})")
    assert not broken, "imports from a floor above (docs/layout.md, floors block):\n" + "\n".join(broken)


def test_no_import_cycle():
    cycles = sorted(name for name in GRAPH if name in _reachable(name))
    assert not cycles, f"modules that import themselves through others: {cycles}"


def test_kernels_import_nothing_of_fastbuild():
    bad = {m: sorted(d) for m, d in GRAPH.items() if m.startswith("fastbuild_kernels")
           and any(not x.startswith("fastbuild_kernels") for x in d)}
    assert not bad


@pytest.mark.parametrize("floor", ["fastbuild.cli", "fastbuild.commands"])
def test_library_never_imports_the_command_line(floor):
    front = ("fastbuild.cli", "fastbuild.commands", "fastbuild.__main__")
    library = [m for m in GRAPH if m.startswith("fastbuild.") and not m.startswith(front)]
    bad = {m: sorted(d for d in GRAPH[m] if d.startswith(floor)) for m in library}
    assert not {m: d for m, d in bad.items() if d}


def test_commands_never_import_each_other_or_the_cli():
    for m in GRAPH:
        if m.startswith("fastbuild.commands.") and m != "fastbuild.commands.options":
            others = {d for d in GRAPH[m] if d.startswith(("fastbuild.commands.", "fastbuild.cli"))}
            assert others <= {"fastbuild.commands.options"}, (m, others)


def test_predict_and_basemodel_need_nothing_of_the_builder():
    for m in ("fastbuild.commands.predict", *[m for m in GRAPH if m.startswith("fastbuild.basemodel")]):
        assert not {d for d in _reachable(m) if d.startswith("fastbuild.builder")}, m


def test_base_model_backends_do_not_import_each_other():
    assert "fastbuild.basemodel.onnx_backend" not in GRAPH["fastbuild.basemodel.forward"]
    assert "fastbuild.basemodel.forward" not in GRAPH["fastbuild.basemodel.onnx_backend"]


def test_no_folder_named_like_a_build_artefact():
    names = {p.name for p in REPO.joinpath("fastbuild").rglob("*") if p.is_dir()}
    assert not names & {"build", "dist", "out", "tmp"}


def test_every_package_is_installed():
    text = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(fastbuild[\w.]*)"', re.search(r"^packages = \[(.*?)\]", text, re.M | re.S).group(1)))
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages == listed


def test_functions_stay_short():
    """No function of the package is longer than 60 lines (kernels, where one loop is clearer, excepted)."""
    long = []
    for name, path in MODULES.items():
        if name.startswith("fastbuild_kernels"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{name}.{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long

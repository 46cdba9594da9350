"""The package's shape: import arrows point one way, no cycles, every package installed.

Floors, top to bottom: ``fastbuild.cli`` -> ``fastbuild.commands`` -> the library (genome,
annotation, reference, selection, basemodel, builder, ...) -> ``fastbuild_kernels``.
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

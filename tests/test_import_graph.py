"""The package's import graph, read from the source (ast): no cycles, first-party imports at the top.

Every ``import`` / ``from ... import`` of a spear_bench module (or of the upstream packages
``hear_spear`` / ``spear_s3prl``) is an edge, wherever it is written: at module level or inside a
function. A cycle is a strongly connected component of more than one module. A package's own
``__init__`` is not an edge target for its submodules (Python initialises it first whatever the
order). Function-local imports of first-party modules are not allowed (they are how cycles hide), except
those in ``LOCAL_IMPORTS_ALLOWED`` with their reason and those of the command modules (``COMMAND_MODULE``:
a command imports its dependencies when it runs, so that the menus answer at once). Local imports of heavy
optional third-party packages (s3prl, transformers, dasheng, ...) stay, with the reason on their line.
``if TYPE_CHECKING:`` imports count too: an annotation that needs a cycle is a cycle in the design.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = {
    "spear_bench": REPO / "spear_bench",
    "hear_spear": REPO / "upstreams" / "hear_spear",
    "spear_s3prl": REPO / "upstreams" / "spear_s3prl",
}
# The only function-local first-party imports, each with its reason.
LOCAL_IMPORTS_ALLOWED = {
    # `import spear_bench` runs in every interpreter of the venv (the heareval start-up hook, .pth) and
    # must stay light: spear_bench.load_encoder loads the models package (torch) when first called.
    ("spear_bench", "spear_bench.models"),
}
# The command modules (spear_bench/cli/*_cmd.py) import what a command needs inside the command, when it
# runs: `spear-bench --help` and `spear-bench run --help` then load typer and no command's dependencies.
COMMAND_MODULE = re.compile(r"spear_bench\.cli\.\w+_cmd")
# What the menus must not load (test_the_menus_load_no_command_dependencies).
NOT_FOR_THE_MENUS = ("torch", "numpy", "spear_bench.models", "spear_bench.bench", "s3prl", "transformers")


def _modules() -> dict[str, Path]:
    found = {}
    for top, folder in ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The first-party module an imported dotted name refers to (the longest known prefix)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_edges(modules: dict[str, Path]) -> dict[str, set[tuple[str, bool]]]:
    """module -> {(imported module, at module level?)}."""
    edges: dict[str, set[tuple[str, bool]]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        # what runs at import: every node outside function bodies (module level, if/try/for blocks, class bodies)
        top_level = set()
        pending = list(tree.body)
        while pending:
            node = pending.pop()
            top_level.add(id(node))
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                pending.extend(ast.iter_child_nodes(node))
        out = set()
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                targets = [node.args[0].value]  # importlib.import_module("spear_bench...") is an import too
            for target in targets:
                resolved = _resolve(target, modules)
                if resolved is None or resolved == name:
                    continue
                if name.startswith(resolved + "."):
                    continue  # a submodule importing its own package: initialised first anyway
                out.add((resolved, id(node) in top_level))
        edges[name] = out
    return edges


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return components


def test_no_import_cycles():
    modules = _modules()
    graph = {name: {target for target, _ in targets} for name, targets in import_edges(modules).items()}
    assert strongly_connected(graph) == []


def _package(module: str) -> str:
    """spear_bench.bench.probe -> spear_bench.bench; top-level modules stand for themselves."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "spear_bench" and len(parts) > 1 else parts[0]


def test_packages_form_a_dag():
    """Data flows one way (docs/architecture.md): no two packages import each other, even through others."""
    graph: dict[str, set[str]] = {}
    for name, targets in import_edges(_modules()).items():
        for target, _ in targets:
            if _package(name) != _package(target):
                graph.setdefault(_package(name), set()).add(_package(target))
    assert strongly_connected(graph) == []


def documented_layers() -> dict[str, int]:
    """Each place of docs/architecture.md's layer table (``| layer | place | ...``) -> its layer, as the package
    names of :func:`_package` (``audio/`` -> spear_bench.audio, ``upstreams/hear_spear/`` -> hear_spear)."""
    layers = {}
    for line in (REPO / "docs" / "architecture.md").read_text().splitlines():
        row = re.match(r"\| (\d+) \| ([^|]+) \|", line)
        if not row:
            continue
        for place in re.findall(r"`([^`]+)`", row.group(2)):
            place = place.rstrip("/").removesuffix(".py")
            if place.startswith("upstreams/"):
                name = place.split("/", 1)[1]
            elif place == "__init__":
                name = "spear_bench"
            else:
                name = "spear_bench." + place.replace("/", ".")
            layers[name] = int(row.group(1))
    return layers


def test_imports_follow_the_documented_layers():
    """docs/architecture.md's layer table is the package graph: every import goes down a layer, every package
    has a row, and every row names a package that exists."""
    layers = documented_layers()
    packages = {_package(name) for name in _modules()}
    assert sorted(packages - set(layers)) == [], "packages without a row in docs/architecture.md's layer table"
    assert sorted(set(layers) - packages) == [], "rows of docs/architecture.md's layer table naming no package"
    edges = {
        (_package(name), _package(target))
        for name, targets in import_edges(_modules()).items()
        for target, _ in targets
        if _package(name) != _package(target)
    }
    wrong = sorted(
        f"{a} (layer {layers[a]}) imports {b} (layer {layers[b]})" for a, b in edges if layers[a] <= layers[b]
    )
    assert wrong == []


def test_first_party_imports_are_at_the_top():
    modules = _modules()
    local = sorted(
        f"{name} imports {target}"
        for name, targets in import_edges(modules).items()
        for target, top in targets
        if not top and (name, target) not in LOCAL_IMPORTS_ALLOWED and not COMMAND_MODULE.fullmatch(name)
    )
    assert local == []


def test_the_menus_load_no_command_dependencies():
    """The CLI with every command registered (what `spear-bench --help` imports) loads none of their dependencies."""
    code = "import sys, spear_bench.cli; print(' '.join(sorted(sys.modules)))"
    path = os.pathsep.join([str(REPO), str(REPO / "upstreams"), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}
    )
    loaded = set(result.stdout.split())
    assert "spear_bench.cli.run_cmd" in loaded, result.stderr[-2000:]
    assert sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in NOT_FOR_THE_MENUS)) == []


if __name__ == "__main__":
    modules = _modules()
    edges = import_edges(modules)
    graph = {name: {t for t, _ in targets} for name, targets in edges.items()}
    for component in strongly_connected(graph):
        print("cycle:", " ".join(component))
    for name, targets in sorted(edges.items()):
        for target, top in sorted(targets):
            if not top:
                print(f"function-local: {name} imports {target}")

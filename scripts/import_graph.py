"""First-party import graph of spear_bench and upstreams/ (hear_spear, spear_s3prl): module-level AND
function-local imports, plus importlib.import_module("literal"); prints the strongly connected components.

Usage: python scripts/import_graph.py [REPO_ROOT] [--edges] [--type-checking]
``if TYPE_CHECKING:`` blocks are skipped (never run) unless --type-checking. ``from pkg import sub`` is an
edge to the submodule when it exists, else to the package; implicit parent-package imports are not counted.
Exit status 1 when there is a cycle.
"""

import ast
import sys
from pathlib import Path

args = [a for a in sys.argv[1:] if not a.startswith("--")]
root = Path(args[0] if args else ".")
FIRST = ("spear_bench", "hear_spear", "spear_s3prl")
files = {}
for base in (root, root / "upstreams"):
    for pkg in FIRST:
        for f in (base / pkg).rglob("*.py") if (base / pkg).is_dir() else []:
            rel = f.relative_to(base).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            files[".".join(parts)] = f


def resolve(name):
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def is_type_checking(node):
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


edges = {m: {} for m in files}
for mod, f in files.items():
    tree = ast.parse(f.read_text())
    is_pkg = f.name == "__init__.py"

    def visit(node, local):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child) and "--type-checking" not in sys.argv:
                for c in child.orelse:
                    visit(c, local)
                continue
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            targets = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    modname = ".".join(base + ([child.module] if child.module else []))
                else:
                    modname = child.module or ""
                targets = [f"{modname}.{a.name}" for a in child.names] + [modname]
                # `from pkg import sub` -> pkg.sub if a module, else pkg
                targets = [resolve(t) for t in targets[:-1]] or [resolve(modname)]
            if (
                isinstance(child, ast.Call)
                and getattr(child.func, "attr", getattr(child.func, "id", "")) == "import_module"
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
            ):
                targets = [child.args[0].value]  # importlib.import_module("literal")
            for t in targets:
                t = resolve(t) if t else None
                if t and t != mod and t.split(".")[0] in FIRST:
                    kind = "local" if inner else "top"
                    if edges[mod].get(t) != "top":
                        edges[mod][t] = kind
            visit(child, inner)

    visit(tree, False)

# Tarjan
index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))


for v in sorted(edges):
    if v not in index:
        strong(v)
print(
    f"{len(files)} modules, {sum(len(e) for e in edges.values())} first-party import edges, "
    f"{sum(1 for e in edges.values() for k in e.values() if k == 'local')} of them function-local"
)
for comp in sccs:
    print("CYCLE:", " ".join(comp))
    for a in comp:
        for b, kind in edges[a].items():
            if b in comp:
                print(f"    {a} -> {b} ({kind})")
if "--edges" in sys.argv:
    for a in sorted(edges):
        for b, kind in sorted(edges[a].items()):
            print(f"{a} -> {b} {kind}")
print("no cycles" if not sccs else f"{len(sccs)} cycle(s)")
sys.exit(1 if sccs else 0)

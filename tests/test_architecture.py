"""The house keeps its shape: no import cycles, no import upwards between layers, no GUI in the core.

The import graph of ``src/stemlab`` is read with ``ast`` (module-level and function-level
imports alike, so a lazy import cannot hide a cycle). The no-GUI-import check of the core
is ``tests/test_manifest.py::test_core_imports_no_gui_stack``. The root package ``stemlab`` is the
front door (its lazy ``__getattr__`` may reach everything) and is left out of the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "stemlab"

# Layers, lowest first. A module may import its own layer and the layers below, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("errors", "units", "dataset", "calibration", "results", "cache", "backend", "io")),
    ("physics", ("crystal", "simulate", "samples")),
    ("analyses", ("diffraction", "orientation", "symmetry", "classifier", "phasefield", "strainmap")),
    ("live", ("live",)),  # live acquisition: drives the analyses on a detector's stream
    ("demo", ("demo",)),
    ("cli", ("cli",)),
    ("plugin", ("plugin",)),
)
# Within the analyses, the lower analyses an analysis may build on (no other analysis).
ANALYSIS_USES = {"orientation": {"diffraction"}}


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """``{module: {imported stemlab modules}}``; ``from package import submodule`` counts as
    importing the submodule."""
    files = {module_name(p, src): p for p in src.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:  # 'stemlab.x.y.Name' -> 'stemlab.x.y'
                    target = target.rpartition(".")[0]
                if target.startswith("stemlab") and target != "stemlab" and target != name:
                    edges.add(target)
        graph[name] = edges
    graph.pop("stemlab", None)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def layer_of(module: str) -> tuple[int, str]:
    top = module.split(".")[1]
    for rank, (layer, members) in enumerate(LAYERS):
        if top in members:
            return rank, layer
    raise AssertionError(f"{module}: its package {top!r} is in no layer of tests/test_architecture.py; add it")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        rank, layer = layer_of(module)
        own = module.split(".")[1]
        for target in sorted(targets):
            target_rank, target_layer = layer_of(target)
            other = target.split(".")[1]
            if target_rank > rank:
                bad.append(f"{module} ({layer}) imports {target} ({target_layer})")
            elif layer == target_layer == "analyses" and other != own and other not in ANALYSIS_USES.get(own, ()):
                bad.append(f"{module} imports the analysis {target}: analyses build on core and physics "
                           f"(allowed between analyses: {ANALYSIS_USES})")
    return bad


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_imports_up_the_layers():
    bad = upward_imports(import_graph())
    assert not bad, "imports up the layers:\n" + "\n".join(bad)


def test_the_graph_reader_sees_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / "stemlab"
    (pkg / "io").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "io" / "__init__.py").write_text("from .reader import load\n")
    (pkg / "io" / "reader.py").write_text("def load():\n    from ..cli import main\n")
    (pkg / "cli.py").write_text("from .io import load\n")
    graph = import_graph(pkg)
    assert graph["stemlab.io.reader"] == {"stemlab.cli"}
    assert find_cycle(graph) == ["stemlab.cli", "stemlab.io", "stemlab.io.reader", "stemlab.cli"]
    assert upward_imports(graph) == ["stemlab.io.reader (core) imports stemlab.cli (cli)"]


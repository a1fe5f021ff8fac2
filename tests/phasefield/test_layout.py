"""phasefield/ stays split by job: no function over 120 lines, an explicit entry-point signature."""

import ast
import inspect
from pathlib import Path

import stemlab.phasefield

PACKAGE = Path(stemlab.phasefield.__file__).parent
MAX_LINES = 120


def test_no_function_over_the_limit():
    long = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({n} lines)")
    assert not long, long


def test_fit_phasefield_has_an_explicit_signature():
    from stemlab.phasefield import fit_phasefield

    kinds = {p.kind for p in inspect.signature(fit_phasefield).parameters.values()}
    assert inspect.Parameter.VAR_POSITIONAL not in kinds and inspect.Parameter.VAR_KEYWORD not in kinds
    doc = fit_phasefield.__doc__
    assert all(section in doc for section in ("Parameters", "Returns", "Examples", "References"))

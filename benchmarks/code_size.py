"""The largest module and the largest functions of ``src/stemlab`` by lines (a table).

    python benchmarks/code_size.py [SRC] [--top N]

Lines of a module: all its lines. Lines of a function: from its ``def`` (decorators
included) to its last line, nested functions counted inside their parent and listed too.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def measure(src: Path):
    """(modules, functions): lists of (lines, name) sorted largest first."""
    modules, functions = [], []
    for path in sorted(src.rglob("*.py")):
        text = path.read_text()
        name = path.relative_to(src.parent).as_posix()
        modules.append((len(text.splitlines()), name))
        tree = ast.parse(text)
        stack = [(node, "") for node in tree.body]
        while stack:
            node, prefix = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = f"{prefix}{node.name}"
                if not isinstance(node, ast.ClassDef):
                    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                    functions.append((node.end_lineno - first + 1, f"{name}::{qual}"))
                stack.extend((child, qual + ".") for child in node.body)
    return sorted(modules, reverse=True), sorted(functions, reverse=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", default=str(Path(__file__).resolve().parents[1] / "src" / "stemlab"))
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    modules, functions = measure(Path(args.src))
    print(f"| {'largest modules':<52} | lines |\n|{'-' * 54}|------:|")
    for lines, name in modules[:args.top]:
        print(f"| {name:<52} | {lines:5d} |")
    print(f"\n| {'largest functions':<70} | lines |\n|{'-' * 72}|------:|")
    for lines, name in functions[:args.top]:
        print(f"| {name:<70} | {lines:5d} |")


if __name__ == "__main__":
    main()

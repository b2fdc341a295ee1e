"""Layout figures of qa/index (issue #24): modules and lines per folder, and the import arrows between
its modules (every `from qa.index... import` / `import qa.index...` statement, wherever it stands:
top level, TYPE_CHECKING or inside a function), counted as distinct (importer, imported) pairs.

    python .ci/index_layout.py            # tables
    python .ci/index_layout.py --arrows   # also every arrow, `L` marking in-function (lazy) imports
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "qa" / "index"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(name: str, modules: set[str]) -> str | None:
    """The qa.index module `name` refers to (a name imported from a package resolves to the submodule
    when one exists)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def arrows(files: list[Path]) -> dict[tuple[str, str], bool]:
    modules = {module_name(p) for p in files}
    out: dict[tuple[str, str], bool] = {}
    for p in files:
        src = module_name(p)
        tree = ast.parse(p.read_text("utf-8"))
        lazy_nodes = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                      for n in ast.walk(f)}
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if not t.startswith("qa.index"):
                    continue
                dst = resolve(t, modules)
                if dst and dst != src and dst != "qa.index":
                    out[(src, dst)] = out.get((src, dst), False) or id(node) in lazy_nodes
    return out


def main() -> None:
    files = sorted(PKG.rglob("*.py"))
    per_folder: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for p in files:
        f = per_folder[p.parent.relative_to(ROOT).as_posix()]
        f[0] += 1
        f[1] += len(p.read_text("utf-8").splitlines())
    print("| folder | modules | lines |\n|---|---|---|")
    for folder, (n, lines) in sorted(per_folder.items()):
        print(f"| {folder} | {n} | {lines} |")
    total = [sum(v[0] for v in per_folder.values()), sum(v[1] for v in per_folder.values())]
    print(f"| total | {total[0]} | {total[1]} |")
    a = arrows(files)
    lazy = sum(a.values())
    print(f"\nimport arrows inside qa/index: {len(a)} ({lazy} of them inside functions)")
    cycles = [(s, d) for (s, d) in a if (d, s) in a and s < d]
    print(f"two-way pairs: {len(cycles)} {cycles}")
    if "--arrows" in sys.argv:
        for (s, d), is_lazy in sorted(a.items()):
            print(f"  {'L' if is_lazy else ' '} {s} -> {d}")


if __name__ == "__main__":
    main()

"""The layer contract of the ``sim`` package, and a checker for it (``make lint``).

The folder names are the architecture; each layer imports only from layers below it::

    ui        command line, dashboard
    report    markdown, figures, files: render what studies compute
    studies   compare, national, sensitivity, calibration, sweep analysis: compute
    analysis  indices (SALib), PRIM (EMA Workbench), statistics
    experiment  experiment files, designs, executors, the store, sweeps
    run       run_projects: the one place that picks an engine
    mesa      the Mesa model and agents (views of the engine's state)
    engine    the compiled kernels, state layout, random streams, the fast engine
    core      registry, team, outputs, scenarios, limits, errors: no Mesa, no files

``sim/__init__.py`` and ``sim/__main__.py`` sit above every layer (the public facade).
Imports inside functions are allowed only for heavy, optional dependencies
(:data:`LAZY_OK`), and in the command line's handlers (:data:`LAZY_IMPORTERS`), so that a
command imports only what it uses; every other import is at the top of its module, where
a reader sees it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Layers, lowest first.
LAYERS = ("core", "engine", "mesa", "run", "experiment", "analysis", "studies", "report",
          "ui")
#: What may be imported inside a function: heavy or optional dependencies only.
LAZY_OK = ("sim.mesa", "mesa", "pyabc", "dask", "distributed", "solara", "playwright",
           "matplotlib", "SALib", "ema_workbench", "tqdm", "sqlalchemy", "numba",
           "nbformat", "nbclient", "IPython", "ipywidgets", "scipy", "pyarrow", "sbi",
           "torch")
FACADE = ("sim", "sim.__main__", "sim.layers")
#: The command line's modules, whose handlers import what their command uses inside the
#: handler (any module below them): so the parser (``icsim --help``) is built without
#: numpy, and a command never imports what another one needs (``icsim compare`` on the
#: fast engine imports neither Mesa nor the calibration nor the dashboard).
LAZY_IMPORTERS = ("sim.ui.cli", "sim.ui.commands", "sim.ui.options")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.message}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """The index of a module's layer in :data:`LAYERS` (``None``: the facade)."""
    parts = module.split(".")
    if module in FACADE or len(parts) < 2:
        return None
    name = parts[1]
    if name in LAYERS:
        return LAYERS.index(name)
    raise ValueError(f"{module} is in no layer; put it in one of {', '.join(LAYERS)}")


def _imports(tree: ast.Module, module: str, is_package: bool
             ) -> Iterable[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of ``tree``."""
    def visit(node: ast.AST, local: bool) -> Iterable[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            inside = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, local
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_package else module.split(".")[:-1]
                    base = base[:len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                yield target, child.lineno, local
                for alias in child.names:  # `from sim.report import figures`
                    yield f"{target}.{alias.name}", child.lineno, local
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # annotations only: never imported at run time
            else:
                yield from visit(child, inside)
    return visit(tree, False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def check(root: Path, lazy: bool = True) -> list[Violation]:
    """Every breach of the contract in the package at ``root`` (the ``sim`` folder)."""
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    out: list[Violation] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        try:
            mine = layer_of(module)
        except ValueError as exc:
            out.append(Violation(module, 1, str(exc)))
            continue
        for target, line, local in _imports(tree, module, path.name == "__init__.py"):
            internal = target in modules
            if lazy and local and internal and not target.startswith(LAZY_OK) \
                    and module not in LAZY_IMPORTERS:
                out.append(Violation(module, line, f"imports {target} inside a function; "
                                     "import it at the top (only heavy optional "
                                     "dependencies may be imported lazily)"))
            if not internal:
                continue
            graph[module].add(target)
            theirs = layer_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                out.append(Violation(module, line, f"imports {target} from the higher layer "
                                     f"'{LAYERS[theirs]}' ('{LAYERS[mine]}' may import only "
                                     f"{', '.join(LAYERS[:mine + 1])})"))
    out.extend(_cycles(graph))
    return out


def _cycles(graph: dict[str, set[str]]) -> list[Violation]:
    """One violation per import cycle between modules (a package importing its own
    submodules, as ``__init__`` files do, is not a cycle)."""
    def edges(m: str) -> set[str]:
        return {t for t in graph[m] if not m.startswith(t + ".") and t != m}

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[Violation] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges(v):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(Violation(sorted(component)[0], 1, "import cycle: "
                                       + " -> ".join(sorted(component))))

    for v in graph:
        if v not in index:
            strong(v)
    return found


def main() -> int:
    root = Path(__file__).resolve().parent
    problems = check(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"layer contract: {len(problems)} problem(s) in {root}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The engine's rooms: models <- data, methods <- training <- trained <- worker, each stage importing only the
ones before it, and no module importing one that imports it back (function-level imports included)."""
from __future__ import annotations

import ast
from pathlib import Path

import fttui.engine

ENGINE = Path(fttui.engine.__file__).parent
# Each stage may import the stages listed for it (and the engine's loose modules: sink, quiet).
ALLOWED = {"models": set(), "data": {"models"}, "methods": {"models"}, "training": {"models", "data", "methods"},
           "trained": {"models", "data", "methods", "training"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_imports() -> dict[str, set[str]]:
    """Module -> the engine modules it imports anywhere in its body."""
    modules = {module_name(p): p for p in ENGINE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fttui.engine"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in modules}
        graph[name] = found - {name, "fttui.engine"}
    return graph


def stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 3 else None


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state, path = [], {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for after in sorted(graph.get(node, ())):
            if state.get(after) == "open":
                found.append(path[path.index(after):] + [after])
            elif after not in state:
                visit(after)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_every_engine_module_lives_in_a_stage():
    loose = {m for m in engine_imports() if m.count(".") == 2 and m.split(".")[2] not in ALLOWED}
    assert loose == {"fttui.engine.worker", "fttui.engine.sink", "fttui.engine.quiet"}
    assert {stage(m) for m in engine_imports()} - {None} == set(ALLOWED)


def test_stages_import_only_earlier_stages():
    wrong = [f"{m} imports {d}" for m, deps in engine_imports().items() for d in deps
             if stage(m) and stage(d) and stage(d) != stage(m) and stage(d) not in ALLOWED[stage(m)]]
    assert wrong == []


def test_no_module_imports_one_that_imports_it_back():
    assert circles(engine_imports()) == []


def test_the_circle_check_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c", "a"]]

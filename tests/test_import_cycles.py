"""No module of backend, agent_tools or jobs is in an import cycle (type-only imports count too).

A cycle hides which layer a module belongs to: the import-linter contracts check layers, this checks
that no two modules reach each other at all, inside a layer or across one.
"""

from __future__ import annotations

import grimp

PACKAGES = ("backend", "agent_tools", "jobs")


def _cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_module_is_in_an_import_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    imports = {module: {target for target in graph.find_modules_directly_imported_by(module) if target in graph.modules}
               for module in graph.modules}
    cycles = _cycles(imports)
    named = "\n".join(" <-> ".join(cycle) for cycle in cycles)
    assert not cycles, f"modules that import each other (directly or round a loop):\n{named}"

"""The import graph shows the architecture: ``__main__.py`` -> ``components/region.py`` ->
area packages and shared top-level modules, with no cycles and no reaching into another
area's private names; and importing a component does nothing but define it.

Read from the source with ``ast``, so a deferred import inside a function counts as well.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tools.synth import ROOT

COMPONENTS = ROOT / "components"
MAIN = "__main__"
REGION = "components.region"
# One package per area of the platform (docs/architecture.md).
AREAS = (
    "network",
    "cluster",
    "addons",
    "security",
    "k8s",
    "data",
    "observability",
    "multiregion",
    "services",
    "finops",
    "backups",
    "delivery",
    "supply",
)
# What every area may use: the typed settings, contexts and small shared vocabularies.
SHARED = (
    "settings",
    "context",
    "iam",
    "footprint",
    "prerequisites",
    "secrets",
    "node_agents",
    "offerings",
    "addressing",
)

# Imports that break the layering today, each with what removes it. A new one fails the
# test; so does an entry that no longer happens (delete it then).
KNOWN_LAYER_BREAKS = {
    # Settings reject a chart the table does not have, naming the key at load.
    ("settings", "components.addons.charts"): "settings validate charts against the table",
}


@dataclass(frozen=True)
class Import:
    importer: str
    # The imported module (a name imported from a package that is itself a module counts
    # as that module).
    module: str
    # Names taken from the module: imported by name or read as attributes of it.
    names: tuple[str, ...]
    line: int

    def __str__(self) -> str:
        path = "__main__.py" if self.importer == MAIN else self.importer.replace(".", "/") + ".py"
        names = f" ({', '.join(self.names)})" if self.names else ""
        return f"{path}:{self.line} imports {self.module}{names}"


@cache
def module_files() -> dict[str, Path]:
    files = {MAIN: ROOT / "__main__.py"}
    for path in sorted(COMPONENTS.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".")
    # A package's own relative imports start from itself, a module's from its package.
    is_package = module_files()[importer].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(importer: str, tree: ast.Module) -> Iterator[Import]:
    known = module_files()
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    aliases[alias.asname or alias.name] = alias.name
                    yield Import(importer, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(importer, node)
            if source not in known:
                continue
            names: list[str] = []
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    aliases[alias.asname or alias.name] = submodule
                    yield Import(importer, submodule, (), node.lineno)
                else:
                    names.append(alias.name)
            if names:
                yield Import(importer, source, tuple(names), node.lineno)
    # module.attribute reads through an imported module's alias.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            yield Import(importer, aliases[node.value.id], (node.attr,), node.lineno)


@cache
def all_imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for name, path in module_files().items():
        found.extend(_imports(name, ast.parse(path.read_text(), filename=str(path))))
    return tuple(found)


def place(module: str) -> str:
    """``main``, ``region``, an area's name, or ``shared:<name>``."""
    if module == MAIN:
        return "main"
    if module == REGION:
        return "region"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in AREAS:
        return parts[1]
    if len(parts) >= 2 and parts[1] in SHARED:
        return f"shared:{parts[1]}"
    if module == "components":
        return "shared:components"
    return "unplaced"


def layer_breaks() -> dict[tuple[str, str], list[Import]]:
    """Imports against main -> region -> areas -> shared, keyed as KNOWN_LAYER_BREAKS is."""
    breaks: dict[tuple[str, str], list[Import]] = {}
    for edge in all_imports():
        source, target = place(edge.importer), place(edge.module)
        if source == "main":
            allowed = target == "region" or target.startswith("shared:")
        elif source == "region":
            allowed = target != "main"
        elif source.startswith("shared:"):
            allowed = target.startswith("shared:")
        else:  # an area: itself, other areas' public names, shared modules
            allowed = target not in ("main", "region")
        if not allowed:
            importer = edge.importer if source in ("main", "region") else source.split(":")[-1]
            breaks.setdefault((importer, edge.module), []).append(edge)
    return breaks


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_every_component_module_has_a_place() -> None:
    unplaced = [m for m in module_files() if place(m) == "unplaced"]
    assert unplaced == [], "add the module to AREAS or SHARED (or move it into an area)"


def test_only_main_imports_region() -> None:
    importers = [str(e) for e in all_imports() if e.module == REGION and e.importer != MAIN]
    assert importers == []


def test_layering_breaks_are_only_the_known_ones() -> None:
    found = layer_breaks()
    new = [str(e) for key, edges in found.items() if key not in KNOWN_LAYER_BREAKS for e in edges]
    assert new == [], "main -> region -> areas -> shared: these imports go against it"
    gone = sorted(set(KNOWN_LAYER_BREAKS) - set(found))
    assert gone == [], "fixed: delete these entries from KNOWN_LAYER_BREAKS"


def test_no_area_reaches_into_another_areas_private_names() -> None:
    reaching = [
        str(edge)
        for edge in all_imports()
        if place(edge.importer) != place(edge.module)
        and (
            any(_private(name) for name in edge.names)
            or any(_private(part) for part in edge.module.split("."))
        )
    ]
    assert reaching == []


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in module_files()}
    for edge in all_imports():
        if edge.module != edge.importer:
            graph[edge.importer].add(edge.module)
    assert [sorted(c) for c in _cycles(graph)] == []


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return found


# Importing must construct nothing: every way a module could reach the engine or config at
# import time is made to raise, and every components module is imported.
_IMPORT_CHECK = """
import importlib, json, sys
import pulumi
import pulumi.runtime


def refuse(what):
    def refused(*args, **kwargs):
        raise RuntimeError(f"{what} at import time")
    return refused


pulumi.Resource.__init__ = refuse("a resource")
pulumi.Config.__init__ = refuse("pulumi.Config")
pulumi.export = refuse("pulumi.export")
for name in ("invoke", "invoke_async", "invoke_output", "call"):
    setattr(pulumi.runtime, name, refuse(f"pulumi.runtime.{name}"))
failures = {}
for module in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module)
    except Exception as error:
        failures[module] = f"{type(error).__name__}: {error}"
print(json.dumps(failures))
"""


def test_importing_components_constructs_nothing() -> None:
    modules = sorted(m for m in module_files() if m != MAIN)
    # No engine, no stack, no config: what a module sees when imported by a test or a tool.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, json.dumps(modules)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {}


# Where ARNs and regional endpoints must come from AccountContext (partition, dns_suffix).
# Service principals ("es.amazonaws.com") are plain strings and stay as they are.
PARTITION_AWARE = ("data", "network", "multiregion", "cluster/cluster.py")


def _partition_literals(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "arn:aws:" in node.value:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        elif isinstance(node, ast.JoinedStr) and any(
            isinstance(part, ast.Constant) and "amazonaws.com" in str(part.value)
            for part in node.values
        ):
            yield f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}"


def test_partition_and_dns_suffix_come_from_the_account_context() -> None:
    paths: list[Path] = []
    for scope in PARTITION_AWARE:
        root = COMPONENTS / scope
        paths.extend([root] if root.suffix == ".py" else sorted(root.rglob("*.py")))
    assert [literal for path in paths for literal in _partition_literals(path)] == []

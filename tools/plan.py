"""``python -m tools.plan <stack> [--json PATH]``: an offline ``pulumi preview``.

Prints the component tree and a summary by type. Exit codes: 0 ok, 2 unknown stack or
bad config (one line, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from tools.stackconfig import StackConfigError, available_stacks
from tools.synth import ROOT, Plan, PlannedResource, SynthError, synth

EXIT_OK = 0
EXIT_USAGE = 2


def render_tree(plan: Plan) -> Tree:
    """Component -> children, like ``pulumi preview``; providers listed under the stack."""
    tree = Tree(f"[bold]pulumi:pulumi:Stack[/bold] {plan.project}-{plan.stack}")
    children: dict[str, list[PlannedResource]] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)

    def add(node: Tree, resource: PlannedResource) -> None:
        style = "cyan" if not resource.custom else ("magenta" if resource.remote else "green")
        branch = node.add(f"[{style}]+ {resource.type}[/{style}] {resource.name}")
        for child in children.get(resource.urn, []):
            add(branch, child)

    known = {resource.urn for resource in plan.resources}
    for resource in plan.resources:
        if resource.parent not in known:
            add(tree, resource)
    return tree


def render_summary(plan: Plan) -> Table:
    table = Table(title=f"{plan.stack}: {len(plan.resources)} resources to create")
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_, count in sorted(Counter(r.type for r in plan.resources).items()):
        table.add_row(type_, str(count))
    return table


def write_json(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan", description="Offline preview of one stack."
    )
    parser.add_argument("stack", help=f"one of: {', '.join(available_stacks(root))}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the plan as JSON")
    args = parser.parse_args(argv)

    console = Console()
    error_console = Console(stderr=True)
    try:
        plan = synth(args.stack, root)
    except (StackConfigError, SynthError) as exc:
        error_console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        return EXIT_USAGE

    console.print(render_tree(plan))
    console.print(render_summary(plan))
    if args.json:
        write_json(plan, args.json)
        console.print(f"plan written to {args.json}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tools.plan <stack> [--json PATH]``: an offline ``pulumi preview``.

Prints the component tree and a summary by type, the policy gate's verdicts, and the
admission and wiring checks (:mod:`tools.checks`) with the stack's prerequisites.
Exit codes: 0 ok, 1 a mandatory policy violation or a failed check, 2 a bad input
(unknown stack, stack file, config value, policy config, --json path), 3 an internal
failure of the tool or the pack. Every error is one line on stderr; ``--debug`` shows the
traceback of an internal failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from tools.checks import ChecksResult, StackPlan, run_checks
from tools.gate import GateError, GateResult, PackError, run_gate
from tools.stackconfig import StackConfigError, available_stacks, stack_settings
from tools.synth import ROOT, Plan, PlannedRead, PlannedResource, SynthError, synth

EXIT_OK = 0
EXIT_POLICY = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


def render_tree(plan: Plan) -> Tree:
    """Component -> children, like ``pulumi preview``; reads (``>``) under their parent."""
    tree = Tree(f"[bold]pulumi:pulumi:Stack[/bold] {plan.project}-{plan.stack}")
    children: dict[str, list[PlannedResource]] = {}
    for resource in plan.resources:
        children.setdefault(resource.parent, []).append(resource)
    reads: dict[str, list[PlannedRead]] = {}
    for read in plan.reads:
        reads.setdefault(read.parent, []).append(read)

    def add(node: Tree, resource: PlannedResource) -> None:
        style = "cyan" if not resource.custom else ("magenta" if resource.remote else "green")
        if resource.delivered_by:
            # Argo CD applies it from the ApplicationSet above: not in Pulumi's state.
            branch = node.add(
                f"[yellow]~ {resource.type}[/yellow] {resource.name} "
                f"[dim](applied by {resource.delivered_by})[/dim]"
            )
        else:
            branch = node.add(f"[{style}]+ {resource.type}[/{style}] {resource.name}")
        for child in children.get(resource.urn, []):
            add(branch, child)
        for read in reads.get(resource.urn, []):
            branch.add(f"[blue]> {read.type}[/blue] {read.name} [dim]({read.id})[/dim]")

    known = {resource.urn for resource in plan.resources}
    for resource in plan.resources:
        if resource.parent not in known:
            add(tree, resource)
    return tree


def render_summary(plan: Plan) -> Table:
    delivered = sum(1 for r in plan.resources if r.delivered_by)
    table = Table(
        title=f"{plan.stack}: {len(plan.resources) - delivered} resources to create, "
        f"{delivered} for Argo CD to apply, {len(plan.reads)} to read"
    )
    table.add_column("type")
    table.add_column("count", justify="right")
    for type_, count in sorted(Counter(r.type for r in plan.resources).items()):
        table.add_row(type_, str(count))
    return table


def render_policy(result: GateResult) -> Table | str:
    if not result.violations:
        return (
            f"[green]policy: {result.checked} resources checked against {result.rules} rules, "
            "no violations[/green]"
        )
    table = Table(
        title=f"policy: {result.checked} resources, {result.rules} rules, "
        f"{len(result.mandatory)} mandatory violation(s)"
    )
    table.add_column("rule")
    table.add_column("level")
    table.add_column("resource")
    table.add_column("message")
    for violation in sorted(result.violations, key=lambda v: (v.rule, v.urn)):
        style = "red" if violation.level in ("mandatory", "remediate") else "yellow"
        table.add_row(
            violation.rule,
            f"[{style}]{violation.level}[/{style}]",
            violation.urn.rsplit("::", 1)[-1],
            violation.message,
        )
    return table


def render_checks(result: ChecksResult) -> Table | str:
    examined = ", ".join(f"{name} {count}" for name, count in sorted(result.examined.items()))
    if not result.findings:
        return f"[green]checks: no findings ({examined})[/green]"
    table = Table(title=f"checks: {len(result.findings)} finding(s) ({examined})")
    table.add_column("check")
    table.add_column("finding")
    for finding in sorted(result.findings, key=lambda f: (f.check, f.message)):
        table.add_row(finding.check, f"[red]{finding.message}[/red]")
    return table


def render_prerequisites(result: ChecksResult) -> Table | None:
    if not result.prerequisites:
        return None
    table = Table(title="prerequisites: set these before the first pulumi up")
    table.add_column("what")
    table.add_column("how")
    for item in result.prerequisites:
        table.add_row(str(item["what"]), str(item["how"]))
    return table


def account_peers(plan: Plan, root: Path) -> list[StackPlan]:
    """This stack and every other stack deploying into its AWS account, synthesized.

    Raises :class:`SynthError` naming the peer when one cannot be synthesized.
    """
    own = stack_settings(root, plan.stack)
    peers = [StackPlan(plan, own.account, own.region)]
    for stack in available_stacks(root):
        if stack == plan.stack:
            continue
        settings = stack_settings(root, stack)
        if settings.account != own.account:
            continue
        try:
            peers.append(StackPlan(synth(stack, root), settings.account, settings.region))
        except SynthError as exc:
            raise SynthError(f"stack {stack} (same account {own.account}): {exc}") from None
    return peers


def write_json(
    plan: Plan,
    path: Path,
    policy: GateResult | None = None,
    checks: ChecksResult | None = None,
) -> None:
    document = plan.to_json()
    if policy is not None:
        document["policy"] = policy.to_json()
    if checks is not None:
        document["checks"] = checks.to_json()
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


class UsageError(ValueError):
    """A bad input: the message is one line for the user."""


def _writable(path: Path | None) -> None:
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"--json {path}: is a directory")
    if not path.parent.is_dir():
        raise UsageError(f"--json {path}: directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"--json {path}: not writable")


def _preview(args: argparse.Namespace, root: Path, console: Console) -> int:
    _writable(args.json)
    plan = synth(args.stack, root)
    console.print(render_tree(plan))
    console.print(render_summary(plan))
    result: GateResult | None = None
    if not args.no_policy:
        result = run_gate(plan, root / "policy")
        console.print(render_policy(result))
    checks = run_checks(plan, account_peers(plan, root))
    console.print(render_checks(checks))
    prerequisites = render_prerequisites(checks)
    if prerequisites is not None:
        console.print(prerequisites)
    if args.json:
        try:
            write_json(plan, args.json, result, checks)
        except OSError as exc:
            raise UsageError(f"--json {args.json}: {exc.strerror}") from None
        console.print(f"plan written to {args.json}")
    if (result is not None and result.mandatory) or checks.findings:
        return EXIT_POLICY
    return EXIT_OK


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.plan", description="Offline preview of one stack."
    )
    parser.add_argument("stack", help=f"one of: {', '.join(available_stacks(root))}")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the plan as JSON")
    parser.add_argument(
        "--no-policy", action="store_true", help="skip the policy gate (synth only)"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an internal failure"
    )
    args = parser.parse_args(argv)

    # Errors are one line each, however narrow the terminal.
    error_console = Console(stderr=True, soft_wrap=True)
    try:
        return _preview(args, root, Console())
    except PackError as exc:
        error_console.print(f"[red]internal error:[/red] {exc}", highlight=False)
        return EXIT_INTERNAL
    except (StackConfigError, SynthError, GateError, UsageError) as exc:
        error_console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_USAGE
    except Exception as exc:
        if args.debug:
            raise
        first_line = (str(exc).strip().splitlines() or [""])[0]
        error_console.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {first_line} "
            "(run again with --debug for the traceback)",
            highlight=False,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

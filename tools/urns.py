"""URN pins: what each stack has deployed must keep its identity across refactors.

A changed URN is a delete and a create for the engine: for a database, a bucket or a key
that is data loss. ``tests/urns/<stack>.txt`` lists every URN a stack's plan registers;
a URN may leave the list only when a resource of the new plan carries an alias to it
(the engine then moves the state instead of replacing). New URNs are additions a reviewer
sees in the pin file's diff.

``python -m tools.urns [STACK ...]`` rewrites the pin files from the current plans.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tools.sdk import compose_urn
from tools.stackconfig import available_stacks
from tools.synth import ROOT, Plan, PlannedResource, synth

__all__ = ["alias_urns", "compose_urn", "lost_urns", "read_pins", "write_pins"]

PIN_DIR = ROOT / "tests" / "urns"


def alias_urns(plan: Plan, resource: PlannedResource) -> set[str]:
    """The old URNs a resource's aliases point at (alias specs as the engine receives them:
    an empty field means "the same as the resource's own")."""
    urns: set[str] = set()
    for alias in resource.aliases:
        if "urn" in alias:
            urns.add(str(alias["urn"]))
            continue
        spec: dict[str, Any] = alias.get("spec", {})
        parent = "" if spec.get("noParent") else (spec.get("parentUrn") or resource.parent)
        urns.add(
            compose_urn(
                spec.get("stack") or plan.stack,
                spec.get("project") or plan.project,
                parent,
                spec.get("type") or resource.type,
                spec.get("name") or resource.name,
            )
        )
    return urns


def pin_file(stack: str, pin_dir: Path = PIN_DIR) -> Path:
    return pin_dir / f"{stack}.txt"


def read_pins(stack: str, pin_dir: Path = PIN_DIR) -> list[str]:
    return [line for line in pin_file(stack, pin_dir).read_text().splitlines() if line]


def lost_urns(plan: Plan, pinned: list[str]) -> list[str]:
    """Pinned URNs that the plan neither registers nor reaches through an alias."""
    kept = {r.urn for r in plan.resources}
    for resource in plan.resources:
        kept |= alias_urns(plan, resource)
    return [urn for urn in pinned if urn not in kept]


def write_pins(plan: Plan, pin_dir: Path = PIN_DIR) -> Path:
    """Pin the plan's URNs, keeping the old pins an alias still reaches: a stack that has
    not been deployed since the rename still holds its state under the old URN."""
    path = pin_file(plan.stack, pin_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    # What Argo CD applies is not in Pulumi's state: it has no URN to keep.
    urns = [r.urn for r in plan.resources if not r.delivered_by]
    aliased = set().union(*(alias_urns(plan, r) for r in plan.resources))
    old = read_pins(plan.stack, pin_dir) if path.is_file() else []
    urns += sorted({urn for urn in old if urn in aliased} - set(urns))
    path.write_text("".join(f"{urn}\n" for urn in urns))
    return path


def main(argv: list[str] | None = None) -> int:
    stacks = (argv if argv is not None else sys.argv[1:]) or available_stacks(ROOT)
    for stack in stacks:
        plan = synth(stack)
        path = write_pins(plan)
        print(f"pinned {len(read_pins(plan.stack, path.parent))} URNs in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

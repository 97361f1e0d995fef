"""Where add-on pods run and how many may be evicted at once, shared by the add-on modules."""

from __future__ import annotations

from typing import Any

# The system pool: its label, and a toleration of its CriticalAddonsOnly taint.
SYSTEM_PLACEMENT: dict[str, Any] = {
    "nodeSelector": {"workload-type": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
}


def min_two_available(replicas: int) -> dict[str, Any]:
    """A chart's ``podDisruptionBudget`` keeping two pods up; off below three replicas,
    where a PDB of 2 would block every node drain."""
    return {"enabled": replicas >= 3, "minAvailable": 2}


# Node agents (DaemonSets) run on every node, tainted or not (the system pool is
# CriticalAddonsOnly).
EVERY_NODE: list[dict[str, Any]] = [{"operator": "Exists"}]

"""Warm standby for the services: each workload's minimum replicas while the region waits.

A warm standby region (``multiRegion.standby``) runs its node pools at a fraction of their
active minimum (components/settings/standby.py). The services' minimum replicas live in the
chart's values for the environment (``charts/agent-factory/values-<environment>.yaml``);
left there, the HPAs and KEDA would keep the active minimum of pods pending on the smaller
pools until the cluster autoscaler grew the nodes back, undoing the standby. So the platform
hands the chart a smaller ``autoscaling.minReplicas`` per workload, computed from the
chart's own values at ``pulumi up``:

- ``minReplicasPercent`` of the active minimum, rounded up;
- never below what the chart's PodDisruptionBudget guard needs
  (``templates/pdb.yaml`` fails a render whose ``pdb.minAvailable`` is not below
  ``autoscaling.minReplicas``): ``minAvailable + 1``, or one pod with ``maxUnavailable``;
- never above the active minimum; the maxima stay, so the HPAs still follow the region's
  own traffic.

Argo CD renders the chart from git at the ApplicationSet's revision, Pulumi from its
checkout: CI deploys every stack after a merge, so both read the same values files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.services.services import CHART_PATH

# The chart in this checkout (this file is components/services/standby.py).
CHART = Path(__file__).resolve().parents[2] / CHART_PATH


@dataclass(frozen=True)
class WorkloadFloor:
    """What the chart gives one workload: its active minimum and its PDB's minAvailable."""

    min_replicas: int
    pdb_min_available: int | None


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of value files: maps merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def chart_floors(value_file: str, chart: Path = CHART) -> dict[str, WorkloadFloor]:
    """Each enabled workload's active minimum and PDB, from values.yaml and ``value_file``."""
    values: dict[str, Any] = {}
    for name in ("values.yaml", value_file):
        values = _merge(values, yaml.safe_load((chart / name).read_text()) or {})
    return {
        workload: WorkloadFloor(
            int(w["autoscaling"]["minReplicas"]),
            int(w["pdb"]["minAvailable"]) if "minAvailable" in (w.get("pdb") or {}) else None,
        )
        for workload, w in values["workloads"].items()
        if w.get("enabled", True)
    }


def standby_replicas(floor: WorkloadFloor, percent: int) -> int:
    """``percent`` of the active minimum, rounded up, kept where the PDB guard allows."""
    guard = floor.pdb_min_available + 1 if floor.pdb_min_available is not None else 1
    return min(floor.min_replicas, max(guard, math.ceil(floor.min_replicas * percent / 100)))


def standby_min_replicas(floors: Mapping[str, WorkloadFloor], percent: int) -> dict[str, int]:
    """The overrides the chart gets: only the workloads whose minimum goes down."""
    smaller = {w: standby_replicas(f, percent) for w, f in floors.items()}
    return {w: n for w, n in sorted(smaller.items()) if n < floors[w].min_replicas}

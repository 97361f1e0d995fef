"""A warm standby region runs fewer service pods (components/services/standby.py): the
platform lowers each workload's minReplicas, never below the chart's PDB guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.services.standby import (
    WorkloadFloor,
    chart_floors,
    standby_min_replicas,
    standby_replicas,
)
from tests.test_services import HPA, SCALED_OBJECT, platform_values, pod_owners, rendered
from tools.synth import Plan

PDB = "kubernetes:policy/v1:PodDisruptionBudget"
STANDBY, ACTIVE = "prod-eu-west-1", "prod-us-west-2"


@pytest.mark.parametrize(
    ("floor", "percent", "expected"),
    [
        (WorkloadFloor(10, 2), 25, 3),  # ceil(2.5)
        (WorkloadFloor(20, 2), 25, 5),
        (WorkloadFloor(5, 2), 25, 3),  # the PDB guard: minAvailable 2 < minReplicas
        (WorkloadFloor(3, 2), 0, 3),  # never below the guard, whatever the percent
        (WorkloadFloor(8, None), 0, 1),  # maxUnavailable: one pod is enough
        (WorkloadFloor(2, 4), 25, 2),  # never above the active minimum
        (WorkloadFloor(10, 2), 100, 10),
    ],
)
def test_standby_replicas_keep_the_pdb_guard(
    floor: WorkloadFloor, percent: int, expected: int
) -> None:
    assert standby_replicas(floor, percent) == expected


def test_the_floors_are_the_charts_values_for_the_environment() -> None:
    prod = chart_floors("values-prod.yaml")
    assert prod["agent-runtime"] == WorkloadFloor(10, 2)
    assert prod["worker"] == WorkloadFloor(5, 2)
    # Only the workloads that go down are overridden.
    assert standby_min_replicas(prod, 25) == {"agent-runtime": 3, "worker": 3}
    assert standby_min_replicas(prod, 100) == {}


def workload_values(plan: Plan) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = platform_values(plan)["workloads"]
    return values


def test_a_standby_region_runs_fewer_pods_with_the_same_maxima(
    plan_of: Callable[[str], Plan],
) -> None:
    standby, active = plan_of(STANDBY), plan_of(ACTIVE)
    assert {
        w: v["autoscaling"] for w, v in workload_values(standby).items() if "autoscaling" in v
    } == {"agent-runtime": {"minReplicas": 3}, "worker": {"minReplicas": 3}}
    assert all("autoscaling" not in v for v in workload_values(active).values())
    hpas, active_hpas = rendered(standby, HPA), rendered(active, HPA)
    assert hpas["agent-runtime"]["spec"]["minReplicas"] == 3
    assert active_hpas["agent-runtime"]["spec"]["minReplicas"] == 10
    assert hpas["agent-runtime"]["spec"]["maxReplicas"] == 200
    assert hpas["api-gateway"]["spec"]["minReplicas"] == 3
    (worker,) = rendered(standby, SCALED_OBJECT).values()
    assert (worker["spec"]["minReplicaCount"], worker["spec"]["maxReplicaCount"]) == (3, 50)
    # The PDBs stay satisfiable: minAvailable below every workload's (new) minimum.
    minimum = {name: hpa["spec"]["minReplicas"] for name, hpa in hpas.items()}
    minimum["worker"] = worker["spec"]["minReplicaCount"]
    pdbs = rendered(standby, PDB)
    assert set(pdbs) == set(minimum) == set(pod_owners(standby))
    for name, pdb in pdbs.items():
        assert pdb["spec"]["minAvailable"] < minimum[name]

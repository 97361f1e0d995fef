"""Argo Rollouts: the controller behind the services' blue-green and canary releases.

Chart evidence (pin in components/addons/charts.py): argo-rollouts 2.40.5 (app v1.8.3) in
https://argoproj.github.io/argo-helm (the repository's version listing shows 2.40.3 to
2.40.5 on v1.8.3). Value keys from argoproj/argo-helm charts/argo-rollouts/values.yaml and
templates/controller/{deployment,metrics-service}.yaml (replicas with --leader-elect above
one, strategy Recreate, metrics Service <fullname>-metrics on port "metrics" 8090).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.addons import argo_rollouts, kube_prometheus_stack
from components.addons.charts import CHARTS
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY
from components.observability.alerts import SloTargets, alert_groups, rollout_alerts
from policy.agentfactory_policies.hygiene import DEFAULT_REPOSITORIES
from tests.conftest import ROOT, by_name
from tools.checks import check_order, check_quotas, check_scrapes
from tools.synth import APPLICATION_SET, Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
# platformReplicas: dev 1, prod 3 (capped at 2: one leader, one standby).
EXPECTED_REPLICAS = {"dev": 1, "prod": 2}


def _release(plan: Plan) -> Any:
    return by_name(plan, RELEASE)[f"{plan.stack}-security-{argo_rollouts.NAME}"]


def _policy(plan: Plan, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in plan.by_type(NETWORK_POLICY)
        if r.inputs["metadata"]["namespace"] == namespace and r.inputs["metadata"]["name"] == name
    ]
    spec: dict[str, Any] = found.inputs["spec"]
    return spec


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_the_controller_is_restricted_and_installs_its_crds(replicas: int) -> None:
    values = argo_rollouts.values(replicas)
    assert values["podSecurityContext"] == POD_SECURITY
    assert values["containerSecurityContext"] == CONTAINER_SECURITY
    assert (values["installCRDs"], values["keepCRDs"]) == (True, True)
    assert values["dashboard"] == {"enabled": False}
    controller = values["controller"]
    assert controller["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": False}}
    assert controller["nodeSelector"] == {"workload-type": "system"}
    assert controller["resources"] == argo_rollouts.CONTROLLER.values()
    # HA where the stack runs more than one platform replica; no PDB on a single one.
    assert controller["replicas"] == min(replicas, 2)
    assert controller["pdb"] == {"enabled": replicas >= 2, "minAvailable": 1}
    # Kind by kind: Argo CD's chart serves the same group (Applications, AppProjects).
    assert {c.rsplit("/", 1)[-1] for c in argo_rollouts.footprint(replicas).crds} >= {
        "Rollout",
        "AnalysisTemplate",
        "AnalysisRun",
    }


@pytest.mark.parametrize("stack", sorted(EXPECTED_REPLICAS))
def test_the_release_is_pinned_fenced_and_sized(plan_of: Callable[[str], Plan], stack: str) -> None:
    plan = plan_of(stack)
    release = _release(plan).inputs
    chart = CHARTS["argo-rollouts"]
    assert (release["chart"], release["version"]) == ("argo-rollouts", "2.40.5")
    assert release["repositoryOpts"]["repo"] == chart.repo
    assert release["namespace"] == argo_rollouts.NAMESPACE
    assert release["values"]["controller"]["replicas"] == EXPECTED_REPLICAS[stack]
    namespaces = {r.inputs["metadata"]["name"]: r for r in plan.by_type(NAMESPACE)}
    labels = namespaces[argo_rollouts.NAMESPACE].inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    quotas = {r.inputs["metadata"]["namespace"]: r for r in plan.by_type(QUOTA)}
    # The footprint: the controller's replicas, no surge (its Deployment is Recreate).
    hard = quotas[argo_rollouts.NAMESPACE].inputs["spec"]["hard"]
    assert hard["pods"] == str(EXPECTED_REPLICAS[stack])
    findings, _ = check_quotas(plan)
    assert [f for f in findings if argo_rollouts.NAMESPACE in f.message] == []
    own = f"{stack}-security-{argo_rollouts.NAME}"
    assert [f for f in check_order(plan)[0] if f.subject.rsplit("::", 1)[-1] == own] == []
    # The services' ApplicationSet waits for the release whose CRDs its Rollouts need.
    (services,) = plan.by_type(APPLICATION_SET)
    assert _release(plan).urn in services.dependencies


def test_the_repository_is_allowed() -> None:
    assert CHARTS["argo-rollouts"].repo in DEFAULT_REPOSITORIES


def test_the_controller_reaches_prometheus_and_only_prometheus_calls_in(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    egress = _policy(plan, argo_rollouts.NAMESPACE, "allow-egress")["egress"]
    to_monitoring = [
        rule
        for rule in egress
        if rule["to"][0].get("namespaceSelector", {}).get("matchLabels")
        == {"kubernetes.io/metadata.name": "monitoring"}
    ]
    assert to_monitoring == [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ],
            "ports": [{"protocol": "TCP", "port": kube_prometheus_stack.PROMETHEUS_PORT}],
        }
    ]
    (scraped,) = _policy(plan, argo_rollouts.NAMESPACE, "allow-ingress")["ingress"]
    assert scraped["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    # ...and monitoring admits it on Prometheus's port.
    monitoring = _policy(plan, "monitoring", "allow-ingress")["ingress"]
    assert {
        "from": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": argo_rollouts.NAMESPACE}
                }
            }
        ],
        "ports": [{"protocol": "TCP", "port": 9090}],
    } in monitoring


def test_its_metrics_are_scraped_and_the_abort_alert_reads_them(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    monitors = {r.inputs["metadata"]["name"]: r.inputs for r in plan.by_type(SERVICE_MONITOR)}
    spec = monitors[argo_rollouts.MONITOR]["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [argo_rollouts.NAMESPACE]}
    assert spec["selector"]["matchLabels"] == argo_rollouts.METRICS_LABELS
    assert [e["port"] for e in spec["endpoints"]] == ["metrics"]
    rules = {
        rule["alert"]: rule
        for r in plan.by_type(RULE)
        for group in r.inputs["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    aborted = rules["RolloutAborted"]
    assert aborted["expr"] == (
        'max by (exported_namespace, name) (rollout_info{phase="Degraded"}) == 1'
    )
    assert aborted["annotations"]["runbook_url"].endswith("/rollout-aborted.md")
    assert (ROOT / "docs/runbooks/rollout-aborted.md").is_file()
    findings, _ = check_scrapes(plan)
    assert [f for f in findings if "RolloutAborted" in f.subject] == []


def test_the_abort_alert_is_in_every_stacks_rules() -> None:
    (alert,) = rollout_alerts()
    assert alert.severity == "warning" and alert.for_ == "1m"
    groups = alert_groups(SloTargets(99.9, 0.5, 95.0, 0.5))
    assert [a.name for a in groups["agent-factory.rollouts"]] == ["RolloutAborted"]

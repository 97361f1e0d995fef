"""Admission and wiring checks: each rejects a plan with the defect it exists for.

The plans here are small and hand-built, so each test shows the one thing a real API
server or AWS would refuse; tests/test_stacks.py runs the checks over every real stack.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.prerequisites import Prerequisite
from tools.checks import (
    StackPlan,
    check_footprints,
    check_global_names,
    check_order,
    check_quotas,
    check_scrapes,
    check_secret_values,
    metric_names,
    quantity,
)
from tools.synth import Plan, PlannedResource

SMALL = Resources("100m", "128Mi", "200m", "256Mi")


def resource(  # noqa: PLR0917 - a test builder reads best positionally
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    depends: tuple[PlannedResource, ...] = (),
    custom: bool = True,
    outputs: dict[str, Any] | None = None,
) -> PlannedResource:
    return PlannedResource(
        urn=f"urn:pulumi:t::agent-factory::{type_}::{name}",
        type=type_,
        name=name,
        parent="",
        provider="",
        custom=custom,
        remote=False,
        protect=False,
        inputs=inputs or {},
        dependencies=sorted(d.urn for d in depends),
        outputs=outputs or {},
    )


def plan(*resources: PlannedResource, states: dict[str, dict[str, Any]] | None = None) -> Plan:
    return Plan("t", "agent-factory", list(resources), {}, states=states or {})


def namespace(name: str) -> PlannedResource:
    return resource("kubernetes:core/v1:Namespace", f"ns-{name}", {"metadata": {"name": name}})


def quota(ns: str, **hard: str) -> PlannedResource:
    return resource(
        "kubernetes:core/v1:ResourceQuota",
        f"{ns}-quota",
        {"metadata": {"name": "compute", "namespace": ns}, "spec": {"hard": hard}},
    )


def limits(ns: str, **item: Any) -> PlannedResource:
    return resource(
        "kubernetes:core/v1:LimitRange",
        f"{ns}-limits",
        {
            "metadata": {"name": "defaults", "namespace": ns},
            "spec": {"limits": [{"type": "Container", **item}]},
        },
    )


def component(*footprints: ReleaseFootprint, prerequisites: tuple[Prerequisite, ...] = ()) -> Any:
    return resource(
        "agentfactory:platform:Thing",
        "thing",
        custom=False,
        outputs={
            "releaseFootprints": [f.to_output() for f in footprints],
            "prerequisites": [p.to_output() for p in prerequisites],
        },
    )


def node_group(max_size: int, name: str = "pool") -> PlannedResource:
    return resource(
        "aws:eks/nodeGroup:NodeGroup", name, {"scalingConfig": {"minSize": 1, "maxSize": max_size}}
    )


def messages(findings: list[Any]) -> list[str]:
    return [f.message for f in findings]


# -- quantities --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", "0.5"), ("2", "2"), ("1.5", "1.5"), ("512Mi", str(512 * 2**20)), ("1Gi", str(2**30)),
     ("1G", "1000000000"), ("128974848", "128974848")],
)  # fmt: skip
def test_quantities_parse_as_kubernetes_reads_them(text: str, value: str) -> None:
    assert quantity(text) == Decimal(value)


def test_a_malformed_quantity_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        quantity("1 GB")


# -- quota -----------------------------------------------------------------------------


def test_a_load_balancer_service_against_a_zero_quota_is_rejected() -> None:
    """The defect of issue 12: ingress-nginx's LoadBalancer in a namespace quota'd at 0."""
    footprint = ReleaseFootprint(
        "ingress-nginx",
        "ingress-nginx",
        workloads=(Workload("controller", "Deployment", (SMALL,), replicas=2),),
        services=(Service("controller", "LoadBalancer", ports=2),),
    )
    hard = {"services.loadbalancers": "0", "services.nodeports": "0", "pods": "10"}
    findings, _ = check_quotas(plan(quota("ingress-nginx", **hard), component(footprint)))
    assert messages(findings) == [
        "namespace ingress-nginx: needs services.loadbalancers 1 (DaemonSets at 0 nodes, "
        "rollout surge included, autoscaled workloads at their maximum), its quota allows 0",
        "namespace ingress-nginx: needs services.nodeports 2 (DaemonSets at 0 nodes, "
        "rollout surge included, autoscaled workloads at their maximum), its quota allows 0",
    ]
    hard |= {"services.loadbalancers": "1", "services.nodeports": "2"}
    assert check_quotas(plan(quota("ingress-nginx", **hard), component(footprint)))[0] == []


def test_daemonsets_count_at_the_maximum_node_count() -> None:
    agent = ReleaseFootprint(
        "node-exporter", "monitoring", workloads=(Workload("agent", "DaemonSet", (SMALL,)),)
    )
    hard = {"pods": "100", "requests.cpu": "10"}
    fits = plan(quota("monitoring", **hard), component(agent), node_group(60), node_group(40, "b"))
    assert check_quotas(fits)[0] == []
    grown = plan(quota("monitoring", **hard), component(agent), node_group(60), node_group(41, "b"))
    assert messages(check_quotas(grown)[0]) == [
        "namespace monitoring: needs pods 101 (DaemonSets at 101 nodes, rollout surge "
        "included, autoscaled workloads at their maximum), its quota allows 100",
        "namespace monitoring: needs requests.cpu 10.1 (DaemonSets at 101 nodes, rollout "
        "surge included, autoscaled workloads at their maximum), its quota allows 10",
    ]


def test_limit_range_defaults_fill_containers_without_resources() -> None:
    """A container with no resources takes the LimitRange defaults, per replica."""
    bare = ReleaseFootprint(
        "bare", "apps", workloads=(Workload("web", "Deployment", (None,), replicas=3, surge=1),)
    )
    defaults = limits(
        "apps", default={"cpu": "500m", "memory": "512Mi"},
        defaultRequest={"cpu": "100m", "memory": "128Mi"},
    )  # fmt: skip
    findings, _ = check_quotas(
        plan(quota("apps", **{"limits.memory": "1Gi"}), defaults, component(bare))
    )
    assert messages(findings) == [
        "namespace apps: needs limits.memory 2.00Gi (DaemonSets at 0 nodes, rollout surge "
        "included, autoscaled workloads at their maximum), its quota allows 1Gi"
    ]


def test_a_pod_without_requests_in_a_quota_namespace_without_defaults_is_rejected() -> None:
    bare = ReleaseFootprint("bare", "apps", workloads=(Workload("web", "Deployment", (None,)),))
    findings, _ = check_quotas(plan(quota("apps", **{"requests.cpu": "4"}), component(bare)))
    assert messages(findings) == [
        "Deployment apps/bare-web: no requests.cpu and no LimitRange default; "
        "the quota of apps rejects the pod"
    ]


def test_a_container_above_the_limit_range_max_is_rejected() -> None:
    big = ReleaseFootprint(
        "big",
        "apps",
        workloads=(Workload("db", "StatefulSet", (Resources("1", "1Gi", "8", "16Gi"),)),),
    )
    findings, _ = check_quotas(
        plan(limits("apps", max={"cpu": "4", "memory": "32Gi"}), component(big))
    )
    assert messages(findings) == ["StatefulSet apps/big-db: cpu limit 8 above the LimitRange max 4"]


def test_plain_workload_objects_count_too() -> None:
    job = resource(
        "kubernetes:batch/v1:Job",
        "setup",
        {
            "metadata": {"name": "setup", "namespace": "logging"},
            "spec": {"template": {"spec": {"containers": [{"resources": SMALL.values()}]}}},
        },
    )
    findings, examined = check_quotas(plan(quota("logging", **{"limits.cpu": "100m"}), job))
    assert examined == 1
    assert messages(findings) == [
        "namespace logging: needs limits.cpu 0.2 (DaemonSets at 0 nodes, rollout surge "
        "included, autoscaled workloads at their maximum), its quota allows 100m"
    ]


def test_every_release_declares_its_footprint() -> None:
    release = resource(
        "kubernetes:helm.sh/v3:Release", "r", {"name": "metrics-server", "namespace": "kube-system"}
    )
    assert messages(check_footprints(plan(release))[0]) == [
        "Release kube-system/metrics-server: no footprint declared, so its pods and Services "
        "are not counted against the namespace quota"
    ]
    declared = component(ReleaseFootprint("metrics-server", "kube-system"))
    assert check_footprints(plan(release, declared))[0] == []


# -- scrape sources --------------------------------------------------------------------


def rule(expr: str) -> PlannedResource:
    return resource(
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        "rules",
        {
            "metadata": {"name": "seed", "namespace": "monitoring"},
            "spec": {
                "groups": [{"name": "g", "rules": [{"alert": "HighErrorRate", "expr": expr}]}]
            },
        },
    )


def monitor(name: str) -> PlannedResource:
    return resource(
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
        name,
        {"metadata": {"name": name, "namespace": "monitoring"}},
    )


ERRORS = 'sum(rate(nginx_ingress_controller_requests{status=~"5.."}[5m])) > 0'
INGRESS_METRICS = ReleaseFootprint(
    "ingress-nginx",
    "ingress-nginx",
    metrics=(Metrics(("nginx_ingress_controller_",), "ServiceMonitor/monitoring/ingress"),),
)


def test_an_alert_on_metrics_nobody_scrapes_is_rejected() -> None:
    """The defect of issue 12: ingress metrics exposed, no ServiceMonitor in the plan."""
    findings, _ = check_scrapes(plan(rule(ERRORS), component(INGRESS_METRICS)))
    assert messages(findings) == [
        "release ingress-nginx: metrics ['nginx_ingress_controller_'] are declared scraped by "
        "ServiceMonitor/monitoring/ingress, which is not in the plan",
        "PrometheusRule seed HighErrorRate: reads nginx_ingress_controller_requests, which "
        "nothing in the plan scrapes",
    ]
    assert (
        check_scrapes(plan(rule(ERRORS), component(INGRESS_METRICS), monitor("ingress")))[0] == []
    )


def test_dashboards_are_read_with_grafana_variables_substituted() -> None:
    board = {
        "panels": [
            {"title": "Row", "panels": [{"title": "Backups", "targets": [
                {"expr": "velero_backup_total{namespace=\"$ns\"}[$__rate_interval]"}
            ]}]}
        ]
    }  # fmt: skip
    config_map = resource(
        "kubernetes:core/v1:ConfigMap",
        "board",
        {
            "metadata": {
                "name": "d",
                "namespace": "monitoring",
                "labels": {"grafana_dashboard": "1"},
            },
            "data": {"backups.json": json.dumps(board)},
        },
    )
    assert messages(check_scrapes(plan(config_map))[0]) == [
        "dashboard backups.json panel 'Backups': reads velero_backup_total, which nothing in "
        "the plan scrapes"
    ]


def test_metric_names_come_from_the_expression_tree() -> None:
    expr = 'absent(a_total) or {__name__="b"} + on() histogram_quantile(0.9, rate(c_bucket[5m]))'
    assert metric_names(expr) == {"a_total", "b", "c_bucket"}


# -- secret values ---------------------------------------------------------------------


def external_secret(key: str) -> PlannedResource:
    return resource(
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        "sync",
        {
            "metadata": {"name": "oidc", "namespace": "monitoring"},
            "spec": {"data": [{"secretKey": "k", "remoteRef": {"key": key, "property": "k"}}]},
        },
    )


def test_an_external_secret_of_an_entry_without_value_is_rejected() -> None:
    secret = resource("aws:secretsmanager/secret:Secret", "oidc", {"name": "c/grafana/oidc"})
    findings, _ = check_secret_values(plan(secret, external_secret("c/grafana/oidc")))
    assert messages(findings) == [
        "ExternalSecret monitoring/oidc: Secrets Manager entry c/grafana/oidc has no "
        "SecretVersion and no prerequisite says who sets its value"
    ]
    version = resource(
        "aws:secretsmanager/secretVersion:SecretVersion", "v", {"secretId": "c/grafana/oidc"}
    )
    assert check_secret_values(plan(secret, version, external_secret("c/grafana/oidc")))[0] == []
    declared = component(
        prerequisites=(Prerequisite("OIDC client secret", "aws ...", secret="c/grafana/oidc"),)
    )
    assert check_secret_values(plan(secret, declared, external_secret("c/grafana/oidc")))[0] == []


def test_an_external_secret_of_an_entry_nobody_creates_is_rejected() -> None:
    assert messages(check_secret_values(plan(external_secret("c/missing")))[0]) == [
        "ExternalSecret monitoring/oidc: Secrets Manager entry c/missing is not in the plan "
        "and no prerequisite declares it"
    ]


# -- ordering --------------------------------------------------------------------------


def test_objects_wait_for_their_namespace_and_their_crds() -> None:
    ns = namespace("monitoring")
    release = resource(
        "kubernetes:helm.sh/v3:Release",
        "kps",
        {"name": "kube-prometheus-stack", "namespace": "monitoring"},
        depends=(ns,),
    )
    declared = component(
        ReleaseFootprint("kube-prometheus-stack", "monitoring", crds=("monitoring.coreos.com",))
    )
    body = {"metadata": {"name": "seed", "namespace": "monitoring"}}
    early = resource("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "early", body)
    assert messages(check_order(plan(ns, release, declared, early))[0]) == [
        "PrometheusRule monitoring/seed: does not wait for namespace monitoring",
        "PrometheusRule monitoring/seed: does not wait for the release that installs the CRDs "
        "of monitoring.coreos.com",
    ]
    # Waiting for the release also waits for the namespace it waits for.
    late = resource(
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "late", body, depends=(release,)
    )
    assert check_order(plan(ns, release, declared, late))[0] == []


def test_a_custom_resource_whose_crds_nobody_installs_is_rejected() -> None:
    store = resource(
        "kubernetes:external-secrets.io/v1:ClusterSecretStore", "s", {"metadata": {"name": "s"}}
    )
    assert messages(check_order(plan(store))[0]) == [
        "ClusterSecretStore s: no release in the plan installs the CRDs of external-secrets.io"
    ]


def test_an_object_in_a_namespace_nobody_creates_is_rejected() -> None:
    config_map = resource(
        "kubernetes:core/v1:ConfigMap", "c", {"metadata": {"name": "c", "namespace": "ghost"}}
    )
    in_kube_system = resource(
        "kubernetes:core/v1:ConfigMap", "k", {"metadata": {"name": "k", "namespace": "kube-system"}}
    )
    assert messages(check_order(plan(config_map, in_kube_system))[0]) == [
        "ConfigMap ghost/c: namespace ghost is not in the plan"
    ]


# -- account-global names --------------------------------------------------------------


def role(name: str) -> PlannedResource:
    return resource("aws:iam/role:Role", f"role-{name}", {"name": name})


def stack(name: str, account: str, region: str, *resources: PlannedResource) -> StackPlan:
    return StackPlan(Plan(name, "agent-factory", list(resources), {}), account, region)


def test_an_iam_name_repeated_in_two_regions_of_one_account_is_rejected() -> None:
    """The defect of issue 12: AgentFactoryTenant-acme in prod and prod-us-west-2."""
    findings, _ = check_global_names(
        [
            stack("prod", "prod", "us-east-1", role("AgentFactoryTenant-acme")),
            stack("prod-us-west-2", "prod", "us-west-2", role("AgentFactoryTenant-acme")),
        ]
    )
    assert messages(findings) == [
        "Role AgentFactoryTenant-acme is created by prod, prod-us-west-2: the name is unique "
        "per account, so the second pulumi up fails"
    ]


def test_regional_names_may_repeat_across_regions_but_not_within_one() -> None:
    def topic(name: str) -> PlannedResource:
        return resource("aws:sns/topic:Topic", f"topic-{name}", {"name": name})

    apart = [
        stack("prod", "prod", "us-east-1", topic("alarms")),
        stack("prod-us-west-2", "prod", "us-west-2", topic("alarms")),
    ]
    assert check_global_names(apart)[0] == []
    together = [
        stack("dev", "shared", "us-east-1", topic("alarms")),
        stack("staging", "shared", "us-east-1", topic("alarms")),
    ]
    assert len(check_global_names(together)[0]) == 1


def test_one_guardduty_detector_per_account_and_region() -> None:
    def detector() -> PlannedResource:
        return resource("aws:guardduty/detector:Detector", "gd", {"enable": True})

    findings, _ = check_global_names(
        [
            stack("dev", "shared", "us-east-1", detector()),
            stack("staging", "shared", "us-east-1", detector()),
        ]
    )
    assert messages(findings) == [
        "Detector (singleton) is created by dev, staging: the name is unique per region, so "
        "the second pulumi up fails"
    ]


def test_generated_and_unknown_names_cannot_clash() -> None:
    findings, examined = check_global_names(
        [
            stack("a", "x", "us-east-1", role("[unknown]")),
            stack("b", "x", "us-east-1", role("[unknown]")),
        ]
    )
    assert (findings, examined) == ([], 0)


# -- seeded defects in the real prod plan ------------------------------------------------


def _copy(plan: Plan) -> Plan:
    """A plan whose resource list may change; resources are copied where they change."""
    return Plan(plan.stack, plan.project, list(plan.resources), plan.outputs, states=plan.states)


def _prod(plan_of: Callable[[str], Plan]) -> Plan:
    return _copy(plan_of("prod"))


def _mutable(plan: Plan, resource: PlannedResource) -> PlannedResource:
    copied = copy.deepcopy(resource)
    plan.resources[plan.resources.index(resource)] = copied
    return copied


def _only(plan: Plan, type_: str, name_part: str) -> PlannedResource:
    (found,) = [r for r in plan.by_type(type_) if name_part in r.name]
    return _mutable(plan, found)


def test_seeded_quota_defect_in_prod(plan_of: Callable[[str], Plan]) -> None:
    """Node groups allowed to grow past what the node agents' quota was sized for."""
    plan = _prod(plan_of)
    assert check_quotas(plan)[0] == []
    for group in plan.by_type("aws:eks/nodeGroup:NodeGroup"):
        _mutable(plan, group).inputs["scalingConfig"]["maxSize"] *= 3
    namespaces = {f.subject for f in check_quotas(plan)[0]}
    assert {"ResourceQuota monitoring", "ResourceQuota logging"} <= namespaces


def test_seeded_scrape_defect_in_prod(plan_of: Callable[[str], Plan]) -> None:
    plan = _prod(plan_of)
    assert check_scrapes(plan)[0] == []
    monitor = _only(plan, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "ingress-nginx")
    plan.resources.remove(monitor)
    found = messages(check_scrapes(plan)[0])
    assert any("HighErrorRate: reads nginx_ingress_controller_requests" in m for m in found)


def test_seeded_secret_value_defect_in_prod(plan_of: Callable[[str], Plan]) -> None:
    plan = _prod(plan_of)
    assert check_secret_values(plan)[0] == []
    for resource in list(plan.resources):
        if "prerequisites" in resource.outputs:
            _mutable(plan, resource).outputs.pop("prerequisites")
    plan.resources = [
        r for r in plan.resources if r.type != "aws:secretsmanager/secretVersion:SecretVersion"
    ]
    assert len(check_secret_values(plan)[0]) >= 2


def test_seeded_order_defect_in_prod(plan_of: Callable[[str], Plan]) -> None:
    plan = _prod(plan_of)
    assert check_order(plan)[0] == []
    issuer = _only(plan, "kubernetes:cert-manager.io/v1:ClusterIssuer", "cluster-issuer")
    issuer.dependencies = []
    issuer.property_dependencies = {}
    assert messages(check_order(plan)[0]) == [
        "ClusterIssuer letsencrypt-prod: does not wait for the release that installs the CRDs "
        "of cert-manager.io"
    ]


def test_seeded_global_name_defect_across_prod_regions(plan_of: Callable[[str], Plan]) -> None:
    plans = [_prod(plan_of), _copy(plan_of("prod-us-west-2"))]
    stacks = [StackPlan(plans[0], "prod", "us-east-1"), StackPlan(plans[1], "prod", "us-west-2")]
    assert check_global_names(stacks)[0] == []
    for plan in plans:
        _only(plan, "aws:iam/role:Role", "tenant-acme").inputs["name"] = "AgentFactoryTenant-acme"
    assert [f.check for f in check_global_names(stacks)[0]] == ["global-name"]

"""The workload rules (policy/agentfactory_policies/workloads.py), each compliant and
violating through the real gRPC analyzer: small sets of a Deployment (or StatefulSet), its
autoscaler and its PodDisruptionBudget, one change at a time."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.policy_helpers import (
    TAGS,
    UNKNOWN,
    mandatory,
    provider,
    resource,
    undecided,
    verdicts,
    violations,
)
from tools.gate import (
    GateError,
    analyze_resources,
    analyze_stack,
    configure,
    load_policy_config,
    policy_server,
)
from tools.synth import Plan, PlannedResource

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
NAMESPACE = "kubernetes:core/v1:Namespace"
RULES = {
    "workload-disruption-budget",
    "workload-autoscaled",
    "workload-resources-set",
    "workload-image-pinned",
    "workload-probes",
}
NS = "greenlang-prod"
POD_LABELS = {"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "greenlang"}
SELECTOR = {"app.kubernetes.io/name": "api"}
ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"{ECR}/greenlang/api:1.4.2@{DIGEST}"
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}
CONTAINER: dict[str, Any] = {
    "name": "api",
    "image": IMAGE,
    "resources": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
    "readinessProbe": PROBE,
    "livenessProbe": PROBE,
}
INIT: dict[str, Any] = {
    "name": "migrate",
    "image": f"{ECR}/greenlang/migrate:1.4.2@{DIGEST}",
    "resources": CONTAINER["resources"],
}


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    with policy_server() as analyzer:
        yield analyzer


def container(**changes: Any) -> dict[str, Any]:
    """CONTAINER with keys replaced; a value of None drops the key."""
    result = copy.deepcopy(CONTAINER)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def workload(
    name: str = "api",
    namespace: str | None = NS,
    *,
    type_: str = DEPLOYMENT,
    containers: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    labels: dict[str, Any] | None = None,
    replicas: Any = None,
    helm: bool = False,
) -> PlannedResource:
    """A workload as a Pulumi resource, or (``helm``) as a child of a rendered
    kubernetes.helm.v4.Chart: the same type token, the plain object as inputs."""
    metadata: dict[str, Any] = {"name": name, "labels": POD_LABELS}
    if namespace is not None:
        metadata["namespace"] = namespace
    spec: dict[str, Any] = {
        "selector": {"matchLabels": SELECTOR},
        "template": {
            "metadata": {"labels": POD_LABELS if labels is None else labels},
            "spec": {
                "containers": [CONTAINER] if containers is None else containers,
                "initContainers": [INIT] if init is None else init,
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    inputs: dict[str, Any] = {"metadata": metadata, "spec": spec}
    if helm:
        kind = type_.rsplit(":", 1)[-1]
        api = "argoproj.io/v1alpha1" if type_ == ROLLOUT else "apps/v1"
        inputs = {"apiVersion": api, "kind": kind, **inputs}
        return resource(type_, inputs, name=f"greenlang-services:{namespace}/{name}")
    return resource(type_, inputs, name=name)


def hpa(
    target: str = "api", namespace: str = NS, *, minimum: Any = 2, kind: str = "Deployment"
) -> PlannedResource:
    api = "argoproj.io/v1alpha1" if kind == "Rollout" else "apps/v1"
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": api, "kind": kind, "name": target},
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ],
    }
    if minimum is not None:
        spec["minReplicas"] = minimum
    return resource(
        HPA, {"metadata": {"name": target, "namespace": namespace}, "spec": spec}, name=target
    )


def scaled_object(target: str = "api", *, minimum: Any = None) -> PlannedResource:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": target},
        "triggers": [{"type": "kafka", "metadata": {"topic": "jobs", "lagThreshold": "50"}}],
    }
    if minimum is not None:
        spec["minReplicaCount"] = minimum
    return resource(
        SCALED_OBJECT,
        {
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": {"name": target, "namespace": NS},
            "spec": spec,
        },
        name=f"{target}-scaler",
    )


def pdb(
    name: str = "api",
    namespace: str = NS,
    *,
    match: Any = None,
    min_available: Any = None,
    max_unavailable: Any = 1,
) -> PlannedResource:
    spec: dict[str, Any] = {"selector": {"matchLabels": SELECTOR if match is None else match}}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None and min_available is None:
        spec["maxUnavailable"] = max_unavailable
    return resource(
        PDB, {"metadata": {"name": name, "namespace": namespace}, "spec": spec}, name=name
    )


def namespace(name: str, labels: Any) -> PlannedResource:
    return resource(NAMESPACE, {"metadata": {"name": name, "labels": labels}}, name=f"ns-{name}")


def compliant() -> list[PlannedResource]:
    return [workload(), hpa(), pdb()]


def ours(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {rule: messages for rule, messages in found.items() if rule in RULES}


def messages(stub: Any, resources: list[PlannedResource], rule: str) -> list[str]:
    return violations(stub, resources).get(rule, [])


# -- the compliant set and the scope ------------------------------------------------------------


def test_compliant_deployment_hpa_and_pdb_draw_none(stub: Any) -> None:
    assert ours(violations(stub, compliant())) == {}


def test_compliant_statefulset_needs_no_autoscaler(stub: Any) -> None:
    found = violations(stub, [workload(type_=STATEFULSET, replicas=3), pdb()])
    assert ours(found) == {}


def test_compliant_helm_chart_children_draw_none(stub: Any) -> None:
    assert ours(violations(stub, [workload(helm=True), hpa(), pdb()])) == {}


# -- Argo Rollouts: a Rollout is judged like the Deployment it replaces -----------------------


def test_compliant_rollout_with_its_hpa_and_pdb_draws_none(stub: Any) -> None:
    rollout = workload(type_=ROLLOUT, helm=True)
    assert ours(violations(stub, [rollout, hpa(kind="Rollout"), pdb()])) == {}


def test_rollout_without_budget_or_autoscaler_of_its_kind(stub: Any) -> None:
    # An HPA of a Deployment named like it does not scale the Rollout.
    found = mandatory(stub, [workload(type_=ROLLOUT, helm=True), hpa()])
    assert {"workload-disruption-budget", "workload-autoscaled"} <= set(found)
    (message,) = messages(stub, [workload(type_=ROLLOUT), pdb()], "workload-autoscaled")
    assert message.startswith("Rollout greenlang-prod/api is not the scaleTargetRef")


def test_rollout_containers_are_judged(stub: Any) -> None:
    bad = container(image="nginx:latest", livenessProbe=None, resources={})
    found = mandatory(
        stub, [workload(type_=ROLLOUT, helm=True, containers=[bad]), hpa(kind="Rollout"), pdb()]
    )
    assert {"workload-image-pinned", "workload-probes", "workload-resources-set"} <= set(found)
    (message,) = messages(
        stub,
        [workload(type_=ROLLOUT, containers=[bad]), hpa(kind="Rollout"), pdb()],
        "workload-probes",
    )
    assert message == "Rollout greenlang-prod/api: container api has no livenessProbe"


def test_workloads_outside_greenlang_and_tenant_namespaces_are_out_of_scope(stub: Any) -> None:
    bad = container(image="nginx:latest", resources=None, readinessProbe=None)
    for where in ("monitoring", "greenlang", None):  # None: the default namespace
        found = violations(stub, [workload(namespace=where, containers=[bad])])
        assert ours(found) == {}, where


def test_tenant_namespaces_by_label_and_by_name(stub: Any) -> None:
    labelled = namespace("acme-apps", {"agent-factory.io/tenant": "acme"})
    unlabelled = namespace("acme-tools", {"app.kubernetes.io/name": "acme-tools"})
    in_labelled = workload(namespace="acme-apps")
    in_unlabelled = workload("tools", namespace="acme-tools")
    found = verdicts(stub, [labelled, unlabelled, in_labelled, in_unlabelled])
    flagged = {(v.rule, v.urn) for v in found if v.rule in RULES and v.level == "mandatory"}
    assert flagged == {
        ("workload-disruption-budget", in_labelled.urn),
        ("workload-autoscaled", in_labelled.urn),
    }
    # The resource rules see no Namespace: a tenant namespace is one named tenant-<tenant>.
    latest = workload(namespace="tenant-acme", containers=[container(image=f"{ECR}/x:latest")])
    assert "workload-image-pinned" in mandatory(stub, [latest])


# -- workload-disruption-budget -----------------------------------------------------------------


def test_no_pdb(stub: Any) -> None:
    (message,) = messages(stub, [workload(), hpa()], "workload-disruption-budget")
    assert message.startswith("Deployment greenlang-prod/api has no PodDisruptionBudget")


@pytest.mark.parametrize(
    "budget",
    [
        pdb(match={"app.kubernetes.io/name": "worker"}),
        pdb(match={**SELECTOR, "tier": "web"}),
        pdb(namespace="greenlang-system"),
    ],
    ids=["other-app", "extra-label", "other-namespace"],
)
def test_pdb_selector_must_select_the_pods(stub: Any, budget: PlannedResource) -> None:
    found = violations(stub, [workload(), hpa(), budget])
    assert "workload-disruption-budget" in found
    assert "Deployment greenlang-prod/api" in found["workload-disruption-budget"][0]


def test_pdb_selecting_with_expressions_counts(stub: Any) -> None:
    budget = resource(
        PDB,
        {
            "metadata": {"name": "api", "namespace": NS},
            "spec": {
                "maxUnavailable": 1,
                "selector": {
                    "matchExpressions": [
                        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["api"]}
                    ]
                },
            },
        },
        name="api",
    )
    assert "workload-disruption-budget" not in violations(stub, [workload(), hpa(), budget])


@pytest.mark.parametrize(
    ("scaler", "budget", "ok"),
    [
        (hpa(minimum=2), pdb(min_available=1), True),
        (hpa(minimum=2), pdb(min_available=2), False),
        (hpa(minimum=2), pdb(min_available=3), False),
        (hpa(minimum=None), pdb(min_available=1), False),  # HPA minReplicas defaults to 1
        (hpa(minimum=4), pdb(min_available="50%"), True),
        (hpa(minimum=1), pdb(min_available="50%"), False),  # 50% of 1 rounds up to 1
        (hpa(minimum=3), pdb(min_available="100%"), False),
        (hpa(minimum=3), pdb(max_unavailable=0), False),
        (hpa(minimum=3), pdb(max_unavailable="0%"), False),
        (scaled_object(minimum=3), pdb(min_available=2), True),
        (scaled_object(minimum=2), pdb(min_available=2), False),
        (scaled_object(), pdb(min_available=1), False),  # minReplicaCount 0: one pod at most
    ],
)
def test_pdb_that_blocks_every_drain(
    stub: Any, scaler: PlannedResource, budget: PlannedResource, ok: bool
) -> None:
    found = verdicts(stub, [workload(), scaler, budget])
    flagged = [v for v in found if v.rule == "workload-disruption-budget"]
    if ok:
        assert flagged == []
    else:
        assert [(v.urn, v.level) for v in flagged] == [(budget.urn, "mandatory")]
        assert flagged[0].message.startswith("PodDisruptionBudget greenlang-prod/api: ")
        assert "Deployment greenlang-prod/api" in flagged[0].message
        assert "blocks every node drain" in flagged[0].message


def test_pdb_min_available_against_statefulset_replicas(stub: Any) -> None:
    def of(replicas: int) -> dict[str, list[str]]:
        return violations(
            stub, [workload(type_=STATEFULSET, replicas=replicas), pdb(min_available=2)]
        )

    assert "workload-disruption-budget" not in of(3)
    (message,) = of(2)["workload-disruption-budget"]
    assert "StatefulSet greenlang-prod/api" in message and "spec.replicas 2" in message


# -- workload-autoscaled ----------------------------------------------------------------------


def test_no_autoscaler(stub: Any) -> None:
    (message,) = messages(stub, [workload(), pdb()], "workload-autoscaled")
    assert message.startswith("Deployment greenlang-prod/api is not the scaleTargetRef")


def test_scaled_object_instead_of_hpa_is_compliant(stub: Any) -> None:
    found = violations(stub, [workload(), scaled_object(minimum=2), pdb()])
    assert ours(found) == {}


@pytest.mark.parametrize(
    "scaler",
    [hpa("worker"), hpa(namespace="greenlang-system"), hpa(kind="StatefulSet")],
    ids=["other-name", "other-namespace", "other-kind"],
)
def test_autoscaler_of_something_else_does_not_count(stub: Any, scaler: PlannedResource) -> None:
    assert "workload-autoscaled" in mandatory(stub, [workload(), scaler, pdb()])


def test_two_autoscalers_fight(stub: Any) -> None:
    (message,) = messages(
        stub, [workload(), hpa(), scaled_object(minimum=2), pdb()], "workload-autoscaled"
    )
    assert "HorizontalPodAutoscaler greenlang-prod/api" in message
    assert "ScaledObject greenlang-prod/api" in message


# -- workload-resources-set --------------------------------------------------------------------


def test_container_without_limits(stub: Any) -> None:
    requests_only = container(resources={"requests": CONTAINER["resources"]["requests"]})
    (message,) = messages(
        stub, [workload(containers=[requests_only]), hpa(), pdb()], "workload-resources-set"
    )
    assert message == (
        "Deployment greenlang-prod/api: container api does not set resources limits.cpu, "
        "limits.memory"
    )


def test_init_container_without_requests(stub: Any) -> None:
    init = {**INIT, "resources": {"limits": CONTAINER["resources"]["limits"]}}
    (message,) = messages(stub, [workload(init=[init])], "workload-resources-set")
    assert message.startswith("Deployment greenlang-prod/api: initContainer migrate")
    assert "requests.cpu, requests.memory" in message


def test_statefulset_container_without_resources(stub: Any) -> None:
    bare = workload(type_=STATEFULSET, containers=[container(resources=None)], replicas=3)
    assert "workload-resources-set" in mandatory(stub, [bare, pdb()])


# -- workload-image-pinned ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (f"{ECR}/greenlang/api:latest@{DIGEST}", "uses the tag latest"),
        (f"{ECR}/greenlang/api:1.4.2", "is not pinned by digest"),
        (f"{ECR}/greenlang/api@{DIGEST}", "names no tag"),
        (f"{ECR}/greenlang/api:1.4.2@sha256:abc", "is not sha256:<64 lowercase hex digits>"),
        (f"docker.io/greenlang/api:1.4.2@{DIGEST}", "registry docker.io is not in allowed"),
        (f"nginx:1.27@{DIGEST}", "registry docker.io (implied: it names no registry)"),
        (f"ghcr.io/greenlang/api:1.4.2@{DIGEST}", "registry ghcr.io is not in"),
        (f"{ECR}.evil.example/greenlang/api:1.4.2@{DIGEST}", "is not in allowedRegistries"),
        (f"public.ecr.aws/greenlang/api:1.4.2@{DIGEST}", "is not in allowedRegistries"),
    ],
)
def test_image_not_pinned_or_not_private(stub: Any, image: str, problem: str) -> None:
    found = messages(stub, [workload(containers=[container(image=image)])], "workload-image-pinned")
    assert len(found) == 1 and problem in found[0], found
    assert found[0].startswith(f"Deployment greenlang-prod/api: container api: image {image} ")


def test_image_of_an_init_container_and_of_china_ecr(stub: Any) -> None:
    cn = f"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/greenlang/api:1.4.2@{DIGEST}"
    assert "workload-image-pinned" not in violations(
        stub, [workload(containers=[container(image=cn)])]
    )
    latest = {**INIT, "image": f"{ECR}/greenlang/migrate:latest"}
    (message,) = messages(stub, [workload(init=[latest])], "workload-image-pinned")
    assert message.startswith("Deployment greenlang-prod/api: initContainer migrate: image ")
    assert "uses the tag latest" in message and "is not pinned by digest" in message


def test_allowed_registries_come_from_the_rules_config(stub: Any) -> None:
    image = f"ghcr.io/greenlang/api:1.4.2@{DIGEST}"
    ghcr = workload(containers=[container(image=image)], init=[{**INIT, "image": image}])
    config = {"workload-image-pinned": {"allowedRegistries": ["ghcr.io"]}}
    assert "workload-image-pinned" not in violations(stub, [ghcr], config)
    # The host glob matches the registry host entirely, and ECR is no longer allowed.
    lookalike = workload(containers=[container(image=f"ghcr.io.evil.example/a:1@{DIGEST}")])
    assert "workload-image-pinned" in violations(stub, [lookalike], config)
    assert "workload-image-pinned" in violations(stub, [workload()], config)


# -- workload-probes ---------------------------------------------------------------------------


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_missing_probe(stub: Any, probe: str) -> None:
    deployment = workload(containers=[CONTAINER, container(name="sidecar", **{probe: None})])
    (message,) = messages(stub, [deployment, hpa(), pdb()], "workload-probes")
    assert message == f"Deployment greenlang-prod/api: container sidecar has no {probe}"


def test_init_containers_need_no_probes_and_startup_probe_is_optional(stub: Any) -> None:
    assert "workload-probes" not in violations(stub, compliant())


def test_helm_child_without_probes(stub: Any) -> None:
    bare = workload(helm=True, containers=[container(readinessProbe=None, livenessProbe=None)])
    (message,) = messages(stub, [bare, hpa(), pdb()], "workload-probes")
    assert message.endswith("container api has no readinessProbe and no livenessProbe")


# -- unknown values ----------------------------------------------------------------------------


def test_unknown_namespace_waits(stub: Any) -> None:
    pending = workload(namespace=UNKNOWN, containers=[container(image="nginx:latest")])
    assert not mandatory(stub, [pending]) & RULES
    assert undecided(stub, [pending]) >= {
        "workload-image-pinned",
        "workload-disruption-budget",
        "workload-autoscaled",
    }


def test_unknown_image_waits_and_a_known_bad_one_stays_mandatory(stub: Any) -> None:
    pending = workload(containers=[container(image=UNKNOWN)])
    assert "workload-image-pinned" not in mandatory(stub, [pending, hpa(), pdb()])
    assert "workload-image-pinned" in undecided(stub, [pending, hpa(), pdb()])
    mixed = workload(containers=[container(image=UNKNOWN), container(name="b", image="x:latest")])
    assert "workload-image-pinned" in mandatory(stub, [mixed, hpa(), pdb()])


def test_unknown_limits_count_as_set(stub: Any) -> None:
    resources = {"requests": {"cpu": UNKNOWN, "memory": "1Gi"}, "limits": UNKNOWN}
    pending = workload(containers=[container(resources=resources)])
    assert ours(violations(stub, [pending, hpa(), pdb()])) == {}


def test_unknown_min_available_waits_only_that_check(stub: Any) -> None:
    found = verdicts(stub, [workload(), workload("worker"), hpa(), pdb(min_available=UNKNOWN)])
    budget = {(v.urn.rsplit("::", 1)[-1], v.level, v.undecided) for v in found if v.rule in RULES}
    # The worker has no PDB at all (mandatory); the api's PDB waits for minAvailable; the
    # worker has no autoscaler either.
    assert budget == {
        ("worker", "mandatory", False),
        ("", "advisory", True),
    }
    notes = [v.message for v in found if v.undecided and v.rule == "workload-disruption-budget"]
    assert any("spec.minAvailable" in note for note in notes), notes


def test_unknown_scale_target_waits_and_known_violations_stay(stub: Any) -> None:
    pending = resource(
        HPA,
        {"metadata": {"name": "x", "namespace": NS}, "spec": {"scaleTargetRef": UNKNOWN}},
        name="pending",
    )
    found = verdicts(stub, [workload(), pdb(), pending, workload("other", "greenlang-system")])
    decided = {(v.urn.rsplit("::", 1)[-1], v.level) for v in found if v.rule in RULES}
    assert ("other", "mandatory") in decided  # another namespace: still decided
    assert ("api", "mandatory") not in decided
    assert "workload-autoscaled" in {v.rule for v in found if v.undecided}


def test_unknown_property_it_does_not_read_keeps_the_verdict(stub: Any) -> None:
    bad = workload(containers=[container(image="nginx:latest", resources=None)])
    inputs = {**bad.inputs, "unreadByAnyRule": UNKNOWN}
    inputs["spec"] = {**inputs["spec"], "revisionHistoryLimit": UNKNOWN}
    subject = resource(DEPLOYMENT, inputs, name="api")
    assert mandatory(stub, [subject]) >= RULES - {"workload-probes"}


# -- levels per stack --------------------------------------------------------------------------


def _levels(stub: Any, stack: str, resources: list[PlannedResource]) -> dict[str, set[str]]:
    plan = Plan(stack, "agent-factory", [provider(TAGS), *resources], {})
    configure(stub, plan, load_policy_config(stack))
    found = analyze_resources(stub, plan, plan.resources) + analyze_stack(stub, plan)
    levels: dict[str, set[str]] = {}
    for v in found:
        if v.rule in RULES:
            levels.setdefault(v.rule, set()).add(v.level)
    return levels


@pytest.mark.parametrize(
    ("stack", "level"),
    [
        ("dev", "advisory"),
        ("staging", "mandatory"),
        ("prod", "mandatory"),
        ("prod-us-west-2", "mandatory"),
        ("prod-eu-west-1", "mandatory"),
    ],
)
def test_levels_per_stack(stub: Any, stack: str, level: str) -> None:
    bad = workload(containers=[container(image="nginx:latest", resources=None, livenessProbe=None)])
    assert _levels(stub, stack, [bad]) == {rule: {level} for rule in RULES}


@pytest.mark.parametrize(
    "override",
    [
        {"workload-probes": "advisory"},
        {"workload-disruption-budget": {"enforcementLevel": "disabled"}},
        {"workload-image-pinned": {"allowedRegistries": ["^docker\\.io/"]}},
        {"workload-resources-set": {"namespaces": ["greenlang-*"]}},
        {"workload-autoscaled": {"tenantLabel": "anything"}},
    ],
)
def test_production_may_not_relax_the_workload_rules(stub: Any, override: dict[str, Any]) -> None:
    plan = Plan("prod", "agent-factory", [provider(TAGS)], {})
    with pytest.raises(GateError, match="relaxes security in production"):
        configure(stub, plan, {**load_policy_config("prod"), **override})
    # Adding namespaces is tightening, and allowed.
    wider = {"workload-probes": {"namespaces": ["greenlang-*", "tenant-*", "agents-*"]}}
    configure(stub, plan, {**load_policy_config("prod"), **wider})


# -- the prod plan's own workloads (the services chart) -------------------------------------------


def _greenlang(plan: Plan, type_: str) -> list[PlannedResource]:
    return [
        r
        for r in plan.resources
        if r.type == type_
        and str(r.inputs["metadata"].get("namespace", "")).startswith("greenlang-")
    ]


def _targeting(plan: Plan, deployment: PlannedResource) -> PlannedResource:
    name = deployment.inputs["metadata"]["name"]
    return next(
        r
        for r in _greenlang(plan, HPA) + _greenlang(plan, SCALED_OBJECT)
        if r.inputs["spec"]["scaleTargetRef"]["name"] == name
    )


def _budget(plan: Plan, deployment: PlannedResource) -> PlannedResource:
    labels = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    return next(
        r
        for r in _greenlang(plan, PDB)
        if r.inputs["spec"]["selector"]["matchLabels"].items() <= labels.items()
    )


def _changed(resource_: PlannedResource, edit: Any) -> PlannedResource:
    inputs = copy.deepcopy(resource_.inputs)
    edit(inputs)
    return replace(resource_, inputs=inputs)


def test_prod_services_draw_none_and_each_change_draws_its_rule(
    stub: Any, plan_of: Callable[[str], Plan]
) -> None:
    """The rules over the real chart output (helm.v4 children) of the prod plan: clean as
    it is, and each change one rule exists for is caught on the object it names."""
    prod = plan_of("prod")
    deployments = _greenlang(prod, DEPLOYMENT)
    if len(deployments) < 3:
        pytest.skip("the prod plan holds no services chart yet")
    configure(stub, prod, load_policy_config("prod"))
    clean = analyze_resources(stub, prod, deployments) + analyze_stack(stub, prod)
    assert [v for v in clean if v.rule in RULES] == []

    def spec(inputs: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = inputs["spec"]["template"]["spec"]["containers"][0]
        return result

    first = deployments[0]
    resource_changes = {
        "workload-resources-set": lambda i: spec(i)["resources"].pop("limits"),
        "workload-image-pinned": lambda i: spec(i).update(image=spec(i)["image"].split("@")[0]),
        "workload-probes": lambda i: spec(i).pop("readinessProbe"),
    }
    for rule, edit in resource_changes.items():
        found = analyze_resources(stub, prod, [_changed(first, edit)])
        assert (rule, first.urn, "mandatory") in {(v.rule, v.urn, v.level) for v in found}, rule

    a, b, c = deployments[:3]
    dropped = {_budget(prod, a).urn, _targeting(prod, b).urn}
    scaler = _targeting(prod, c)
    minimum = scaler.inputs["spec"].get("minReplicas", scaler.inputs["spec"].get("minReplicaCount"))
    blocking = _changed(
        _budget(prod, c),
        lambda i: (i["spec"].pop("maxUnavailable", None), i["spec"].update(minAvailable=minimum)),
    )
    resources = [blocking if r.urn == blocking.urn else r for r in prod.resources]
    mutated = replace(prod, resources=[r for r in resources if r.urn not in dropped])
    flagged = {
        (v.rule, v.urn)
        for v in analyze_stack(stub, mutated)
        if v.rule in RULES and v.level == "mandatory"
    }
    assert flagged == {
        ("workload-disruption-budget", a.urn),
        ("workload-autoscaled", b.urn),
        ("workload-disruption-budget", blocking.urn),
        # Without its autoscaler b runs spec.replicas (1 when the chart leaves it to the
        # HPA): its PDB's minAvailable now blocks drains as well.
        ("workload-disruption-budget", _budget(prod, b).urn),
    }

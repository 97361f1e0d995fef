"""The services on the platform: the in-repo chart delivered by Argo CD from the
ApplicationSet Pulumi writes, its rendered objects in the plan as the Applications Argo CD
generates (one per workload) will apply them, each object once, wired to the platform's
identities, data stores, pools and hostnames, and gated like every other resource."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.prerequisites import PREREQUISITES_OUTPUT
from components.services.services import Placement
from components.settings import WORKLOADS, Taint
from components.settings.services import ANTHROPIC_API_CIDRS
from tests.conftest import ROOT, by_name
from tools import helm
from tools import plan as plan_cli
from tools.checks import (
    check_order,
    check_quotas,
    check_scrapes,
    check_service_accounts,
    component_outputs,
)
from tools.synth import (
    APPLICATION,
    APPLICATION_SET,
    CHART,
    Plan,
    PlannedResource,
    SynthError,
    application_children,
    object_type,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
RELEASE = "kubernetes:helm.sh/v3:Release"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
RECORD = "aws:route53/record:Record"
# Workloads shipped by Argo Rollouts (charts/agent-factory values.yaml delivery.strategy).
ROLLOUTS = {"api-gateway": "blueGreen", "agent-factory": "canary"}


def applications(plan: Plan) -> dict[str, PlannedResource]:
    """Workload -> the Application the stack's ApplicationSet generates for it."""
    return {
        a.inputs["metadata"]["labels"]["app.kubernetes.io/component"]: a
        for a in plan.by_type(APPLICATION)
    }


def helm_source(plan: Plan, workload: str = "api-gateway") -> dict[str, Any]:
    helm_: dict[str, Any] = applications(plan)[workload].inputs["spec"]["source"]["helm"]
    return helm_


def platform_values(plan: Plan, workload: str = "api-gateway") -> dict[str, Any]:
    """What Pulumi hands the chart through a generator element."""
    values: dict[str, Any] = json.loads(helm_source(plan, workload)["values"])
    return values


def delivered(plan: Plan) -> list[PlannedResource]:
    """Every object the stack's Applications apply."""
    urns = {a.urn for a in plan.by_type(APPLICATION)}
    return [r for r in plan.resources if r.parent in urns]


def rendered(plan: Plan, type_: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs for r in delivered(plan) if r.type == type_}


def pod_owners(plan: Plan) -> dict[str, dict[str, Any]]:
    """Workload -> its Deployment or (progressive delivery) Rollout."""
    return {**rendered(plan, DEPLOYMENT), **rendered(plan, ROLLOUT)}


def test_object_types_follow_the_provider_tokens() -> None:
    assert object_type("apps/v1", "Deployment") == DEPLOYMENT
    assert object_type("v1", "Service") == "kubernetes:core/v1:Service"
    assert object_type("keda.sh/v1alpha1", "ScaledObject") == SCALED_OBJECT


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_chart_comes_from_git_with_the_environment_values(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    # Pulumi no longer applies the chart: one owner, Argo CD.
    assert plan.by_type(CHART) == []
    (application_set,) = plan.by_type(APPLICATION_SET)
    # One Application per workload, named after the stack and the workload.
    apps = applications(plan)
    assert set(apps) == set(WORKLOADS)
    for workload, application in apps.items():
        assert application.inputs["metadata"]["name"] == f"agent-factory-{stack}-{workload}"
        assert application.parent == application_set.urn and application.delivered_by == "argocd"
        spec = application.inputs["spec"]
        assert spec["source"]["repoURL"] == "https://github.com/agent-factory/platform.git"
        assert spec["source"]["path"] == "charts/agent-factory"
        assert spec["source"]["helm"]["valueFiles"] == [f"values-{stack}.yaml"]
        # The same release name for all: it is the instance label of every selector.
        assert spec["source"]["helm"]["releaseName"] == "agent-factory"
        assert platform_values(plan, workload)["render"] == [workload]
        assert spec["destination"]["namespace"] == f"greenlang-{stack}"
        # Its objects are children named after it, and wait for what the ApplicationSet does.
        children = [r for r in plan.resources if r.parent == application.urn]
        assert len(children) >= 8, workload
        for child in children:
            namespace = child.inputs["metadata"]["namespace"]
            name = child.inputs["metadata"]["name"]
            assert child.name == f"{application.name}:{namespace}/{name}"
            assert child.dependencies == application.dependencies and child.custom
            assert child.delivered_by == "argocd"
        assert application_set.urn in application.dependencies
        assert set(application_set.dependencies) <= set(application.dependencies)
    # Apart from the render selection, every Application gets the same platform values.
    shared = {w: {**platform_values(plan, w), "render": None} for w in WORKLOADS}
    assert len({json.dumps(v, sort_keys=True) for v in shared.values()}) == 1


def _key(document: dict[str, Any]) -> tuple[str, str, str, str]:
    metadata = document["metadata"]
    return (document["apiVersion"], document["kind"], metadata["namespace"], metadata["name"])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_applications_together_apply_the_whole_chart_once(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    """The five Applications' objects are, object for object, what the chart renders for
    the whole release (render unset): nothing lost, nothing twice, the NetworkPolicies
    unchanged; each Application holds its workload's objects and, for agent-factory's,
    the AnalysisTemplates every Rollout shares."""
    plan = plan_of(stack)
    source = helm_source(plan)
    whole = helm.render(
        ROOT / "charts/agent-factory",
        helm.layered(
            [ROOT / "charts/agent-factory" / f for f in source["valueFiles"]],
            {**platform_values(plan), "render": None},
        ),
        release=source["releaseName"],
        namespace=f"greenlang-{stack}",
    )
    applied = [r.inputs for r in delivered(plan)]
    assert len({_key(d) for d in applied}) == len(applied)
    assert {_key(d): d for d in applied} == {_key(d): d for d in whole}
    for workload, application in applications(plan).items():
        owned = {
            (r.inputs["kind"], r.inputs["metadata"]["labels"]["app.kubernetes.io/component"])
            for r in plan.resources
            if r.parent == application.urn
        }
        components = {component for _, component in owned}
        shared = {"analysis"} if workload == "agent-factory" else set()
        assert components == {workload} | shared, workload
        assert {kind for kind, component in owned if component == "analysis"} == (
            {"AnalysisTemplate"} if shared else set()
        )
    ingress_owner = {r.parent for r in delivered(plan) if r.type == INGRESS}
    assert ingress_owner == {applications(plan)["api-gateway"].urn}


def test_five_workloads_with_their_scalers_per_environment(plan_of: Callable[[str], Plan]) -> None:
    prod = plan_of("prod")
    assert set(rendered(prod, DEPLOYMENT)) == {"agent-registry", "agent-runtime", "worker"}
    assert set(rendered(prod, ROLLOUT)) == {"api-gateway", "agent-factory"}
    assert set(pod_owners(prod)) == set(WORKLOADS)
    hpas = rendered(prod, HPA)
    ranges = {n: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"]) for n, h in hpas.items()}
    # The autoscalers scale what ships the pods: the Rollout where there is one.
    assert {n: h["spec"]["scaleTargetRef"]["kind"] for n, h in hpas.items()} == {
        "agent-factory": "Rollout",
        "agent-runtime": "Deployment",
        "agent-registry": "Deployment",
        "api-gateway": "Rollout",
    }
    assert hpas["api-gateway"]["spec"]["scaleTargetRef"]["apiVersion"] == "argoproj.io/v1alpha1"
    assert ranges == {
        "agent-factory": (3, 50),
        "agent-runtime": (10, 200),
        "agent-registry": (3, 10),
        "api-gateway": (3, 30),
    }
    (worker,) = rendered(prod, SCALED_OBJECT).values()
    assert worker["spec"]["scaleTargetRef"]["name"] == "worker"
    triggers = {t["type"] for t in worker["spec"]["triggers"]}
    assert {"kafka", "cron"} <= triggers
    # dev runs no Kafka: the worker scales on CPU and the cron floor only.
    (dev_worker,) = rendered(plan_of("dev"), SCALED_OBJECT).values()
    assert "kafka" not in {t["type"] for t in dev_worker["spec"]["triggers"]}


def test_images_come_by_digest_from_this_accounts_registry(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod-eu-west-1")
    for name, deployment in pod_owners(plan).items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
        assert container["image"].startswith(f"{registry}/agent-factory/{name}:0.1.0@sha256:")


def test_pods_run_on_their_pool_as_the_platforms_service_account(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    accounts = {
        r.inputs["metadata"]["name"]: r
        for r in plan.by_type(SERVICE_ACCOUNT)
        if r.inputs["metadata"]["namespace"] == "greenlang-prod"
    }
    pools = {"agent-registry": "agent-factory"}
    for name, deployment in pod_owners(plan).items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name and name in accounts
        assert pod["nodeSelector"] == {"workload-type": pools.get(name, name)}
        assert accounts[name].inputs["automountServiceAccountToken"] is False
    # The gateway calls nothing in AWS: its account carries no role.
    assert "annotations" not in accounts["api-gateway"].inputs["metadata"]
    assert check_service_accounts(plan) == ([], 6)


def statements(plan: Plan, role_name: str) -> list[dict[str, Any]]:
    policy = by_name(plan, ROLE_POLICY)[f"{role_name}-policy"]
    return json.loads(policy.inputs["policy"])["Statement"]


def test_kafka_access_is_one_topic_and_one_group(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    worker = {s["Sid"]: s for s in statements(plan, "prod-security-worker")}
    cluster = worker["KafkaConnect"]["Resource"]
    assert ":cluster/" in cluster
    assert worker["KafkaTopic"]["Resource"] == (
        cluster.replace(":cluster/", ":topic/") + "/agent-tasks"
    )
    assert worker["KafkaTopic"]["Action"] == [
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:ReadData",
    ]
    assert worker["KafkaGroup"]["Resource"].endswith("/agent-worker")
    producer = {s["Sid"]: s for s in statements(plan, "prod-security-agent-factory")}
    assert "kafka-cluster:WriteData" in producer["KafkaTopic"]["Action"]
    assert "KafkaGroup" not in producer
    # dev has no Kafka: no kafka statement at all.
    dev = statements(plan_of("dev"), "dev-security-worker")
    assert not [s for s in dev if s["Sid"].startswith("Kafka")]


# What a workload's `uses` in the chart needs from its IRSA role (the cache is reached with
# its auth token, not IAM).
NEEDS = {
    "postgres": "DatabaseIamAuth",
    "kafka": "KafkaConnect",
    "llm": "ReadApplicationSecrets",
    "artifacts": "Artifacts",
}


def test_every_workload_may_do_in_aws_what_the_chart_says_it_uses(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    (values_file,) = helm_source(plan)["valueFiles"]
    values = helm.layered(
        [
            ROOT / "charts/agent-factory/values.yaml",
            ROOT / "charts/agent-factory" / values_file,
        ],
        {},
    )
    policies = by_name(plan, ROLE_POLICY)
    for workload in WORKLOADS:
        uses = values["workloads"][workload]["uses"]
        needed = {sid for store, sid in NEEDS.items() if uses[store]}
        policy = policies.get(f"prod-security-{workload}-policy")
        granted = (
            {s["Sid"] for s in json.loads(policy.inputs["policy"])["Statement"]}
            if policy
            else set()
        )
        assert needed <= granted, workload
        # Nothing more than it uses, except the KMS and list statements that go with them.
        assert {sid for sid in granted if sid in NEEDS.values()} == needed, workload


def test_the_gateway_serves_the_api_names_and_the_health_path(
    plan_of: Callable[[str], Plan],
) -> None:
    for stack, hosts in (
        ("prod", ["api.greenlang.ai", "api-us-east-1.greenlang.ai"]),
        ("prod-us-west-2", ["api.greenlang.ai", "api-us-west-2.greenlang.ai"]),
    ):
        (ingress,) = rendered(plan_of(stack), INGRESS).values()
        spec = ingress["spec"]
        assert [r["host"] for r in spec["rules"]] == hosts
        assert spec["tls"] == [{"hosts": hosts}]  # the controller's wildcard certificate
        paths = {p["path"]: p for r in spec["rules"] for p in r["http"]["paths"]}
        # What GlobalRouting's health check and the peer probes request.
        assert paths["/healthz"]["pathType"] == "Exact"
        assert paths["/healthz"]["backend"]["service"]["name"] == "api-gateway"
    # A stack outside the latency-routed set gets its own name and record.
    dev = plan_of("dev")
    (ingress,) = rendered(dev, INGRESS).values()
    assert [r["host"] for r in ingress["spec"]["rules"]] == ["api-dev.greenlang.ai"]
    # dev names no hosted zone (security.hostedZoneId), so no record is made for it.
    assert "dev-services-api-dns" not in by_name(dev, RECORD)


def test_llm_egress_is_the_configured_allow_list(plan_of: Callable[[str], Plan]) -> None:
    values = platform_values(plan_of("prod"))
    assert values["global"]["llmEgressCidrs"] == list(ANTHROPIC_API_CIDRS)


def test_the_quota_admits_every_autoscaler_at_its_maximum(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    findings, _ = check_quotas(plan)
    assert [f for f in findings if "greenlang-prod" in f.message] == []
    # Seeded: the runtime allowed to 400 pods does not fit the namespace's quota.
    resources = [
        _with_max(r, 400)
        if r.type == HPA and r.inputs["metadata"]["name"] == "agent-runtime"
        else r
        for r in plan.resources
    ]
    findings, _ = check_quotas(Plan(plan.stack, plan.project, resources, plan.outputs))
    assert {f.subject for f in findings} == {"ResourceQuota greenlang-prod"}
    assert any("needs requests.cpu" in f.message for f in findings)
    assert "autoscaled workloads at their maximum" in findings[0].message


def test_the_quota_counts_a_blue_green_preview_at_full_size(
    plan_of: Callable[[str], Plan],
) -> None:
    """At 60 replicas the gateway's blue-green needs 120 pods (60 cores of requests) during
    a release: over greenlang-prod's quota, which 61 (a rolling update's surge) would fit."""
    plan = plan_of("prod")
    resources = [
        _with_max(r, 60) if r.type == HPA and r.inputs["metadata"]["name"] == "api-gateway" else r
        for r in plan.resources
    ]
    findings, _ = check_quotas(Plan(plan.stack, plan.project, resources, plan.outputs))
    assert {f.subject for f in findings} == {"ResourceQuota greenlang-prod"}
    assert any("needs requests.cpu" in f.message for f in findings)


def test_rollouts_wait_for_the_release_that_installs_their_crds(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("dev")
    (release,) = [r for r in plan.by_type(RELEASE) if r.inputs["name"] == "argo-rollouts"]
    assert release.inputs["namespace"] == "argo-rollouts"
    assert [f for f in check_order(plan)[0] if "argoproj.io" in f.message] == []
    # Seeded: the chart no longer waits for Argo Rollouts; its Rollouts and
    # AnalysisTemplates would reach an API server that does not know their kinds.
    cut = [
        PlannedResource(
            **{**r.__dict__, "dependencies": [d for d in r.dependencies if d != release.urn]}
        )
        for r in plan.resources
    ]
    findings, _ = check_order(Plan(plan.stack, plan.project, cut, plan.outputs))
    refused = sorted(f.message for f in findings if "argoproj.io" in f.message)
    assert len(refused) == 5  # two Rollouts, three AnalysisTemplates
    assert all("does not wait for the release that installs the CRDs" in m for m in refused)


def test_the_analyses_read_what_the_workloads_monitors_scrape(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("dev")
    findings, _ = check_scrapes(plan)
    assert [f for f in findings if "AnalysisTemplate" in f.subject] == []

    # Seeded: a query reading a metric no ServiceMonitor of the plan declares.
    def unscraped(r: PlannedResource) -> PlannedResource:
        if r.type != ANALYSIS_TEMPLATE or r.inputs["metadata"]["name"] != "error-rate":
            return r
        text = json.dumps(r.inputs).replace("http_server_request_duration", "http_requests")
        return PlannedResource(**{**r.__dict__, "inputs": json.loads(text)})

    resources = [unscraped(r) for r in plan.resources]
    findings, _ = check_scrapes(Plan(plan.stack, plan.project, resources, plan.outputs))
    assert {f.subject for f in findings} == {"AnalysisTemplate error-rate error-rate"}
    assert "reads http_requests_seconds_count, which nothing in the plan scrapes" in (
        findings[0].message
    )


def _with_max(resource: PlannedResource, most: int) -> PlannedResource:
    inputs = json.loads(json.dumps(resource.inputs))
    inputs["spec"]["maxReplicas"] = most
    return PlannedResource(**{**resource.__dict__, "inputs": inputs})


def test_a_pod_of_a_missing_service_account_is_rejected(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("dev")
    resources = [
        r
        for r in plan.resources
        if not (r.type == SERVICE_ACCOUNT and r.name == "dev-security-sa-worker")
    ]
    findings, _ = check_service_accounts(Plan(plan.stack, plan.project, resources, plan.outputs))
    assert [f.message for f in findings] == [
        "Deployment greenlang-dev/worker: ServiceAccount greenlang-dev/worker is not in the "
        "plan; the API server rejects its pods"
    ]


def test_a_source_outside_the_checkout_is_not_rendered(plan_of: Callable[[str], Plan]) -> None:
    (application_set,) = plan_of("dev").by_type(APPLICATION_SET)
    inputs = json.loads(json.dumps(application_set.inputs))
    inputs["spec"]["template"]["spec"]["source"]["path"] = "charts/not-here"
    elsewhere = PlannedResource(**{**application_set.__dict__, "inputs": inputs})
    generated = application_children(elsewhere, "dev", "agent-factory", ROOT)
    assert [a.type for a in generated] == [APPLICATION] * len(WORKLOADS)


def test_an_object_two_applications_render_fails_the_preview(
    plan_of: Callable[[str], Plan],
) -> None:
    """Two Applications applying one object would overwrite each other's tracking
    annotation on every sync: the preview refuses it, naming both."""
    (application_set,) = plan_of("dev").by_type(APPLICATION_SET)
    inputs = json.loads(json.dumps(application_set.inputs))
    (generator,) = inputs["spec"]["generators"]
    worker = next(e for e in generator["list"]["elements"] if e["workload"] == "worker")
    values = json.loads(worker["platformValues"])
    worker["platformValues"] = json.dumps({**values, "render": ["worker", "agent-registry"]})
    twice = PlannedResource(**{**application_set.__dict__, "inputs": inputs})
    with pytest.raises(
        SynthError,
        match=(
            r"ConfigMap greenlang-dev/agent-registry is rendered by both "
            r"dev-services-applicationset:argocd/agent-factory-dev-agent-registry and "
            r"dev-services-applicationset:argocd/agent-factory-dev-worker"
        ),
    ):
        application_children(twice, "dev", "agent-factory", ROOT)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project (no venv, no tests) to break on purpose."""
    root = tmp_path_factory.mktemp("checkout") / "project"
    shutil.copytree(
        ROOT,
        root,
        ignore=shutil.ignore_patterns("venv", ".git", "tests", "__pycache__", ".*_cache"),
    )
    return root


APPLIED = "dev-services-applicationset:argocd/agent-factory-dev"  # -<workload>


def _break_pods(template: Path) -> str:
    """Render the pods of ``template``'s kind with runAsNonRoot: false (only that kind's:
    the pod template helper itself is shared); returns the original text."""
    original = template.read_text()
    include = '{{- include "agent-factory.podTemplate" $ctx | nindent 4 }}'
    assert include in original
    template.write_text(
        original.replace(
            include,
            '{{- include "agent-factory.podTemplate" $ctx'
            ' | replace "runAsNonRoot: true" "runAsNonRoot: false" | nindent 4 }}',
        )
    )
    return original


@pytest.mark.parametrize(
    ("template", "kind", "broken"),
    [
        ("deployment.yaml", "apps/v1:Deployment", {"worker", "agent-registry", "agent-runtime"}),
        ("rollout.yaml", "argoproj.io/v1alpha1:Rollout", set(ROLLOUTS)),
    ],
)
def test_a_root_pod_in_the_chart_fails_the_plan(
    checkout: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    template: str,
    kind: str,
    broken: set[str],
) -> None:
    """A Deployment's or a Rollout's root container fails `make plan` with exit 1, naming
    the rule and each broken object: the pack judges a Rollout's pods like a Deployment's."""
    path = checkout / "charts/agent-factory/templates" / template
    original = _break_pods(path)
    document = tmp_path / "plan.json"
    try:
        code = plan_cli.main(["dev", "--json", str(document)], root=checkout)
    finally:
        path.write_text(original)
    out = " ".join(capsys.readouterr().out.split())
    assert code == plan_cli.EXIT_POLICY
    assert "pss-run-as-non-root" in out
    violations = json.loads(document.read_text())["policy"]["violations"]
    refused = {
        v["urn"].rsplit("$", 1)[-1]
        for v in violations
        if v["rule"] == "pss-run-as-non-root" and v["level"] == "mandatory"
    }
    # The objects Argo CD would apply, named under the Application that applies them.
    assert refused == {
        f"kubernetes:{kind}::{APPLIED}-{name}:greenlang-dev/{name}" for name in broken
    }


def test_values_cannot_loosen_the_security_context(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = checkout / "charts/agent-factory/values-dev.yaml"
    original = values.read_text()
    values.write_text(
        original + "\nworkloads:\n  worker:\n    securityContext: {runAsNonRoot: false}\n"
    )
    try:
        code = plan_cli.main(["dev"], root=checkout)
    finally:
        values.write_text(original)
    assert code == plan_cli.EXIT_USAGE
    assert "securityContext" in capsys.readouterr().err


def services_prerequisites(plan: Plan) -> list[str]:
    return [
        item["what"]
        for owner, item in component_outputs(plan, PREREQUISITES_OUTPUT)
        if owner.name == f"{plan.stack}-services"
    ]


def test_what_the_pods_assume_is_printed_as_prerequisites(plan_of: Callable[[str], Plan]) -> None:
    prod = " | ".join(services_prerequisites(plan_of("prod")))
    assert "images exist in the registry" in prod
    assert "database role agent_factory exists in agentfactory with rds_iam" in prod
    assert "Kafka topic agent-tasks exists" in prod
    # dev runs no Kafka; a secondary's replica carries the primary's roles.
    assert "Kafka topic" not in " | ".join(services_prerequisites(plan_of("dev")))
    assert "database role" not in " | ".join(services_prerequisites(plan_of("prod-us-west-2")))


def test_the_chart_renders_the_same_without_a_cluster() -> None:
    """The provider renders with the cluster at hand (`--dry-run=server`), the preview
    without: a template that asks the cluster (lookup, Capabilities) would differ."""
    templates = (ROOT / "charts/agent-factory/templates").glob("*")
    asking = [
        t.name for t in templates if "lookup" in t.read_text() or ".Capabilities" in t.read_text()
    ]
    assert asking == []


def test_a_tainted_pool_is_tolerated_as_kubernetes_spells_the_effect() -> None:
    taint = Taint(key="dedicated", value="gpu", effect="NO_EXECUTE")
    placement = Placement.on_pool("gpu", [taint])
    assert placement.node_selector == {"workload-type": "gpu"}
    assert placement.tolerations == (
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoExecute"},
    )

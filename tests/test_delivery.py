"""Delivery: Argo CD in each stack (HA in prod, one replica in dev), its SSO, RBAC, fence,
metrics and ingress; the environment's AppProject; the ApplicationSet and the Application
it generates per workload (sync policy per environment); the policy rule that confines Applications,
through the gRPC analyzer; and a foreign repository failing `make plan`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.addons import argocd
from components.delivery.argocd import CHART_KINDS, GITHUB_HOOK_CIDRS, delivery_alerts
from components.settings import WORKLOADS
from tests.conftest import ROOT, by_name
from tests.policy_helpers import K8S_LABELS, resource, violations
from tools import plan as plan_cli
from tools.gate import policy_server
from tools.synth import APPLICATION, APPLICATION_SET, Plan, PlannedResource
from tools.urns import read_pins

RELEASE = "kubernetes:helm.sh/v3:Release"
PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject"
EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
REPO = "https://github.com/agent-factory/platform.git"


def release(plan: Plan) -> dict[str, Any]:
    values: dict[str, Any] = by_name(plan, RELEASE)[f"{plan.stack}-argocd-argocd"].inputs["values"]
    return values


def applications(plan: Plan) -> dict[str, PlannedResource]:
    """Workload -> the Application the ApplicationSet generates for it."""
    return {
        a.inputs["metadata"]["labels"]["app.kubernetes.io/component"]: a
        for a in plan.by_type(APPLICATION)
    }


# -- Argo CD --------------------------------------------------------------------------


def test_argocd_is_pinned_and_highly_available_outside_dev(
    plan_of: Callable[[str], Plan],
) -> None:
    prod_release = by_name(plan_of("prod"), RELEASE)["prod-argocd-argocd"].inputs
    assert prod_release["chart"] == "argo-cd" and prod_release["version"] == "9.4.17"
    assert prod_release["namespace"] == "argocd"
    prod, staging, dev = (release(plan_of(s)) for s in ("prod", "staging", "dev"))
    for values in (prod, staging):
        assert values["redis-ha"]["enabled"] is True
        assert values["server"]["replicas"] == 2 and values["repoServer"]["replicas"] == 2
        assert values["applicationSet"]["replicaCount"] == 2
        assert values["server"]["pdb"] == {"enabled": True, "minAvailable": 1}
    assert dev["redis-ha"]["enabled"] is False
    assert dev["server"]["replicas"] == 1 and dev["repoServer"]["replicas"] == 1
    assert dev["server"]["pdb"]["enabled"] is False
    # No Dex, no local admin: people sign in through the OIDC issuer only.
    assert prod["dex"]["enabled"] is False and prod["configs"]["cm"]["admin.enabled"] is False


def test_sso_reads_its_client_secret_from_secrets_manager(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    oidc = yaml.safe_load(release(plan)["configs"]["cm"]["oidc.config"])
    assert oidc["issuer"] == "https://greenlang.okta.com"
    assert oidc["clientSecret"] == "$argocd-oidc:client-secret"
    secrets = {
        r.inputs["metadata"]["name"]: r.inputs["spec"] for r in plan.by_type(EXTERNAL_SECRET)
    }
    target = secrets["argocd-oidc"]["target"]
    # Argo CD resolves $secret:key only in Secrets labelled part-of: argocd.
    assert target["name"] == "argocd-oidc"
    assert target["template"]["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    (entry,) = secrets["argocd-oidc"]["data"]
    assert entry["remoteRef"]["key"] == "agent-factory-prod/argocd/oidc"
    # The webhook secret is merged into the chart's argocd-secret, not owned by ESO.
    webhook = secrets["argocd-webhook"]
    assert webhook["target"] == {"name": "argocd-secret", "creationPolicy": "Merge"}
    assert webhook["data"][0]["secretKey"] == "webhook.github.secret"
    # Notifications read the alerting integrations' entry Observability owns.
    keys = {d["remoteRef"]["key"] for d in secrets["argocd-notifications"]["data"]}
    assert keys == {"agent-factory-prod/alerting/integrations"}


@pytest.mark.parametrize(("stack", "sync"), [("dev", True), ("staging", True), ("prod", False)])
def test_rbac_sre_admin_developers_read_and_sync_outside_prod(
    plan_of: Callable[[str], Plan], stack: str, sync: bool
) -> None:
    rbac = release(plan_of(stack))["configs"]["rbac"]
    lines = rbac["policy.csv"].splitlines()
    assert "g, platform-sre, role:admin" in lines
    assert "g, agent-factory-developers, role:developer" in lines
    assert "p, role:developer, applications, get, */*, allow" in lines
    assert ("p, role:developer, applications, sync, */*, allow" in lines) is sync
    assert not any("delete" in line or "exec" in line for line in lines)
    assert rbac["policy.default"] == ""


def test_its_namespace_is_fenced_with_a_quota_for_its_pods(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (namespace,) = [r for r in plan.by_type(NAMESPACE) if r.inputs["metadata"]["name"] == "argocd"]
    labels = namespace.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    quota = by_name(plan, QUOTA)["prod-argocd-ns-argocd-quota"].inputs["spec"]["hard"]
    # HA: controller, 2 servers, 2 repo servers, 2 ApplicationSet controllers, the
    # notifications controller, 3 redis, 3 HAProxy, plus one surge pod per Deployment.
    assert quota["pods"] == "19"
    dev_quota = by_name(plan_of("dev"), QUOTA)["dev-argocd-ns-argocd-quota"].inputs["spec"]
    assert dev_quota["hard"]["pods"] == str(
        sum(w.replicas + w.surge for w in argocd.footprint(False).workloads)
    )


def test_metrics_are_scraped_and_alerts_have_runbooks(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    monitor = by_name(plan, MONITOR)["prod-argocd-servicemonitor"].inputs["spec"]
    assert monitor["namespaceSelector"] == {"matchNames": ["argocd"]}
    assert monitor["selector"] == {"matchLabels": argocd.SCRAPE_LABEL}
    for component in argocd.COMPONENTS_WITH_METRICS:
        metrics = release(plan)[component]["metrics"]
        assert metrics["enabled"] and metrics["service"]["labels"] == argocd.SCRAPE_LABEL
    rules = by_name(plan, RULE)["prod-argocd-rules"].inputs["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "ArgoCDAppOutOfSync",
        "ArgoCDSyncFailed",
        "ArgoCDAppDegraded",
    }
    for alert in delivery_alerts():
        assert (ROOT / "docs/runbooks" / f"{alert.runbook}.md").is_file(), alert.name


def test_the_ui_is_internal_and_the_webhook_open_to_github_only(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    ingresses = by_name(plan, INGRESS)
    ui = ingresses["prod-argocd-ingress-ui"].inputs
    webhook = ingresses["prod-argocd-ingress-webhook"].inputs
    ranges = "nginx.ingress.kubernetes.io/whitelist-source-range"
    # The cluster's access CIDRs (VPN, CI egress), as for the API endpoint and Grafana.
    assert ui["metadata"]["annotations"][ranges] == "198.51.100.0/24,203.0.113.0/28"
    assert webhook["metadata"]["annotations"][ranges] == ",".join(GITHUB_HOOK_CIDRS)
    (path,) = webhook["spec"]["rules"][0]["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/api/webhook", "Exact")
    assert ui["spec"]["rules"][0]["host"] == "argocd-prod.greenlang.ai"


def test_notifications_cover_failure_degradation_and_rollback(
    plan_of: Callable[[str], Plan],
) -> None:
    notifications = release(plan_of("prod"))["notifications"]
    assert notifications["secret"] == {"create": False}
    assert set(notifications["triggers"]) == {
        "trigger.on-sync-failed",
        "trigger.on-health-degraded",
        "trigger.on-rollback",
    }
    (subscription,) = notifications["subscriptions"]
    assert subscription["recipients"] == ["slack", "pagerdutyv2:agent-factory"]
    failed = yaml.safe_load(notifications["templates"]["template.app-sync-failed"])
    assert failed["pagerdutyv2"]["severity"] == "critical"
    rolled_back = yaml.safe_load(notifications["templates"]["template.app-rolled-back"])
    assert "pagerdutyv2" not in rolled_back  # a rollback that worked informs, not pages


# -- project, ApplicationSet, Application ----------------------------------------------


def test_the_project_confines_repositories_namespaces_and_kinds(
    plan_of: Callable[[str], Plan],
) -> None:
    prod = by_name(plan_of("prod"), PROJECT)["prod-argocd-project-prod"].inputs["spec"]
    assert prod["sourceRepos"] == [REPO]
    assert prod["destinations"] == [
        {"server": "https://kubernetes.default.svc", "namespace": "greenlang-prod"}
    ]
    assert prod["clusterResourceWhitelist"] == []
    kinds = {(k["group"], k["kind"]) for k in prod["namespaceResourceWhitelist"]}
    assert kinds == set(CHART_KINDS)
    # Every kind the chart renders is one the project admits.
    plan = plan_of("prod")
    urns = {a.urn for a in applications(plan).values()}
    rendered = {
        (r.inputs["apiVersion"].rpartition("/")[0], r.inputs["kind"])
        for r in plan.resources
        if r.parent in urns
    }
    assert rendered <= kinds
    (window,) = prod["syncWindows"]
    assert window["kind"] == "allow" and window["manualSync"] is True
    dev = by_name(plan_of("dev"), PROJECT)["dev-argocd-project-dev"].inputs["spec"]
    assert "syncWindows" not in dev


@pytest.mark.parametrize(("stack", "prune"), [("dev", True), ("staging", True), ("prod", False)])
def test_sync_policy_per_environment(
    plan_of: Callable[[str], Plan], stack: str, prune: bool
) -> None:
    apps = applications(plan_of(stack))
    assert set(apps) == set(WORKLOADS)
    for app in apps.values():
        spec = app.inputs["spec"]
        assert spec["project"] == stack.split("-", maxsplit=1)[0]
        sync = spec["syncPolicy"]
        assert sync["automated"] == {"prune": prune, "selfHeal": True}
        assert sync["syncOptions"] == ["ApplyOutOfSyncOnly=true", "PruneLast=true"]
        assert sync["retry"]["backoff"] == {"duration": "30s", "factor": 2, "maxDuration": "10m"}


def test_argocd_tracks_ownership_by_annotation(plan_of: Callable[[str], Plan]) -> None:
    """Each Application owns its objects by the argocd.argoproj.io/tracking-id annotation
    (its own name), while the chart's app.kubernetes.io/instance label (every selector)
    stays the release's: label tracking would rewrite that label with each Application's
    name, and the five Applications' objects would no longer share it."""
    for stack in ("dev", "prod"):
        cm = release(plan_of(stack))["configs"]["cm"]
        assert cm["application.resourceTrackingMethod"] == "annotation"
    labels = {
        r.inputs["metadata"]["labels"]["app.kubernetes.io/instance"]
        for r in plan_of("prod").resources
        if r.delivered_by and r.type != APPLICATION
    }
    assert labels == {"agent-factory"}


def test_the_generated_application_carries_the_platform_values(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod-eu-west-1")
    prod = applications(plan_of("prod"))
    for workload, app in applications(plan).items():
        assert app.inputs["metadata"]["name"] == f"agent-factory-prod-eu-west-1-{workload}"
        assert app.inputs["metadata"]["namespace"] == "argocd"
        values = json.loads(app.inputs["spec"]["source"]["helm"]["values"])
        assert values["global"]["region"] == "eu-west-1"
        assert values["render"] == [workload]
        # A secondary runs its primary's images: the same digests reach its Applications.
        prod_values = json.loads(prod[workload].inputs["spec"]["source"]["helm"]["values"])
        assert {w: values["workloads"][w]["image"] for w in WORKLOADS} == {
            w: prod_values["workloads"][w]["image"] for w in WORKLOADS
        }
        # Each Application ships its own workload's pods, and only those.
        shipped = {
            r.inputs["metadata"]["name"]
            for type_ in (DEPLOYMENT, "kubernetes:argoproj.io/v1alpha1:Rollout")
            for r in plan.by_type(type_)
            if r.parent == app.urn
        }
        assert shipped == {workload}


def test_what_argo_applies_is_not_pinned_as_a_pulumi_urn(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    delivered = {r.urn for r in plan.resources if r.delivered_by}
    assert len(delivered) > 40
    pins = set(read_pins("prod"))
    assert pins and not delivered & pins
    assert not [p for p in pins if "helm.sh/v4:Chart" in p]


# -- policy over gRPC -----------------------------------------------------------------


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    with policy_server() as analyzer:
        yield analyzer


def _labels(name: str) -> dict[str, str]:
    return {**K8S_LABELS, "app.kubernetes.io/name": name}


def project(name: str = "prod", repos: list[str] | None = None, **spec: Any) -> PlannedResource:
    return resource(
        PROJECT,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AppProject",
            "metadata": {"name": name, "namespace": "argocd", "labels": _labels(name)},
            "spec": {
                "sourceRepos": repos or [REPO],
                "destinations": [
                    {"server": "https://kubernetes.default.svc", "namespace": f"greenlang-{name}"}
                ],
                "clusterResourceWhitelist": [],
                **spec,
            },
        },
        name=f"project-{name}",
    )


def app_spec(
    project_name: str = "prod",
    repo: str = REPO,
    namespace: str = "greenlang-prod",
    prune: bool = False,
) -> dict[str, Any]:
    return {
        "project": project_name,
        "source": {"repoURL": repo, "path": "charts/agent-factory", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"automated": {"prune": prune, "selfHeal": True}},
    }


def app(**changes: Any) -> PlannedResource:
    return resource(
        APPLICATION,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "svc", "namespace": "argocd", "labels": _labels("svc")},
            "spec": app_spec(**changes),
        },
        name="application",
    )


def appset(namespace: str) -> PlannedResource:
    """An ApplicationSet whose element decides the destination namespace."""
    template_spec = app_spec(namespace="{{namespace}}")
    return resource(
        APPLICATION_SET,
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "ApplicationSet",
            "metadata": {"name": "svc", "namespace": "argocd", "labels": _labels("svc")},
            "spec": {
                "generators": [{"list": {"elements": [{"stack": "prod", "namespace": namespace}]}}],
                "template": {"metadata": {"name": "svc-{{stack}}"}, "spec": template_spec},
            },
        },
        name="applicationset",
    )


RULE_NAME = "argocd-application-confined"


def test_policy_accepts_a_confined_application(stub: Any) -> None:
    found = violations(stub, [project(), app(), appset("greenlang-prod")])
    assert RULE_NAME not in found


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            lambda: [project(), app(repo="https://github.com/someone/fork.git")],
            "Application svc: source https://github.com/someone/fork.git is not in "
            f"allowedRepositories ['{REPO}']",
        ),
        (
            lambda: [project(), app(namespace="kube-system")],
            "Application svc: destination namespace 'kube-system' is not one of project "
            "prod's ['greenlang-prod']",
        ),
        (
            lambda: [project(), app(prune=True)],
            "Application svc: project prod may not prune automatically "
            "(syncPolicy.automated.prune must be false)",
        ),
        (
            lambda: [app(project_name="default")],
            "Application svc: project default is not an AppProject of the plan",
        ),
        (
            lambda: [project(repos=["*"]), app()],
            f"AppProject prod: sourceRepos * is not in allowedRepositories ['{REPO}']",
        ),
        (
            lambda: [
                project(
                    clusterResourceWhitelist=[
                        {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"}
                    ]
                ),
                app(),
            ],
            "AppProject prod: clusterResourceWhitelist rbac.authorization.k8s.io/ClusterRole "
            "is not in allowedClusterKinds []",
        ),
        (
            lambda: [project(), appset("default")],
            "ApplicationSet svc -> Application svc-prod: destination namespace 'default' is "
            "not one of project prod's ['greenlang-prod']",
        ),
    ],
)
def test_policy_refuses_what_escapes_the_project(
    stub: Any, resources: Callable[[], list[PlannedResource]], message: str
) -> None:
    assert violations(stub, resources()).get(RULE_NAME) == [message]


def test_dev_may_prune_automatically(stub: Any) -> None:
    found = violations(
        stub, [project("dev"), app(project_name="dev", namespace="greenlang-dev", prune=True)]
    )
    assert RULE_NAME not in found


def test_an_application_of_a_foreign_repository_fails_make_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dev's stack with the delivery repository pointed elsewhere: exit 1, naming the
    ApplicationSet, the Application it generates and the project."""
    root = tmp_path / "project"
    shutil.copytree(
        ROOT,
        root,
        ignore=shutil.ignore_patterns("venv", ".git", "tests", "__pycache__", ".*_cache"),
    )
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    dev["config"]["agent-factory:delivery"] = {"repoUrl": "https://github.com/someone/fork.git"}
    (root / "Pulumi.fork.yaml").write_text(yaml.safe_dump(dev))
    out = tmp_path / "plan.json"
    assert plan_cli.main(["fork", "--json", str(out)], root=root) == plan_cli.EXIT_POLICY
    found = {
        (v["urn"].rsplit("::", 1)[-1], v["level"])
        for v in json.loads(out.read_text())["policy"]["violations"]
        if v["rule"] == RULE_NAME
    }
    assert found == {
        ("fork-argocd-project-dev", "mandatory"),
        ("fork-services-applicationset", "mandatory"),
        *(
            (f"fork-services-applicationset:argocd/agent-factory-fork-{w}", "mandatory")
            for w in WORKLOADS
        ),
    }
    assert "mandatory violation" in capsys.readouterr().out

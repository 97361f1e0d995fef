"""Security under mocks: namespaces, quotas, network policies, RBAC, tenants, charts, guards."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from components.addons.ingress_nginx import PORTS as INGRESS_PORTS
from components.addons.ingress_nginx import nginx_snippets
from components.footprint import FOOTPRINTS_OUTPUT, Resources
from components.iam import bounded_name
from components.k8s.namespaces import Quota, quota_spec, with_daemonset
from components.node_agents import FLUENT_BIT, NODE_EXPORTER
from components.prerequisites import PREREQUISITES_OUTPUT
from components.security.security import (
    MONITORING_QUOTA,
    PLATFORM_QUOTA,
    UNSCOPED_READ_ACTIONS,
)
from components.settings import KUBERNETES_VERSION
from tests.conftest import ENVIRONMENTS, STACKS, by_name, synth_with
from tests.test_settings import stack_settings
from tools.checks import (
    StackPlan,
    check_global_names,
    check_order,
    check_quotas,
    component_outputs,
    quantity,
)
from tools.gate import load_policy_config
from tools.synth import Plan, PlannedResource, SynthError

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
PLATFORM = {
    "argocd",
    "greenlang-system",
    "argo-rollouts",
    "velero",
    "keda",
    "vpa",
    "monitoring",
    "ingress-nginx",
    "cert-manager",
    "external-secrets",
    "logging",
    "tracing",
    "kyverno",
    "trivy-system",
    "opencost",
}


def objects_in(plan: Plan, type_: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["metadata"]["name"]: r.inputs
        for r in plan.by_type(type_)
        if r.inputs["metadata"].get("namespace") == namespace
    }


def namespaces(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: r.inputs["metadata"] for r in plan.by_type(NAMESPACE)}


@pytest.mark.parametrize("stack", STACKS)
def test_namespaces_and_pod_security_labels(plan_of: Callable[[str], Plan], stack: str) -> None:
    found = namespaces(plan_of(stack))
    platform = {name for name in found if not name.startswith("tenant-")}
    # One cluster per environment: it hosts its own environment's workload namespace only.
    assert platform == PLATFORM | {f"greenlang-{ENVIRONMENTS[stack]}"}
    for name, metadata in found.items():
        labels = metadata["labels"]
        expected = "privileged" if name in ("monitoring", "logging") else "restricted"
        assert labels["pod-security.kubernetes.io/enforce"] == expected, name
        assert labels["pod-security.kubernetes.io/warn"] == "restricted"
        if expected == "privileged":
            assert metadata["annotations"]["agent-factory.io/pod-security-exemption"]


@pytest.mark.parametrize("stack", STACKS)
def test_exemptions_match_the_policy_config(stack: str) -> None:
    exemptions = stack_settings(stack).security.pod_security_exemptions
    assert load_policy_config(stack)["namespace-pss-restricted"]["exemptions"] == exemptions


@pytest.mark.parametrize(
    ("stack", "cpu", "memory"), [("dev", 50, 100), ("staging", 75, 150), ("prod", 200, 400)]
)
def test_workload_quota_per_environment(
    plan_of: Callable[[str], Plan], stack: str, cpu: int, memory: int
) -> None:
    quota = objects_in(plan_of(stack), QUOTA, f"greenlang-{stack}")["compute"]["spec"]["hard"]
    assert quota["requests.cpu"] == str(cpu)
    assert quota["requests.memory"] == f"{memory}Gi"
    assert quota["services.loadbalancers"] == "0"


def test_limit_range_defaults(plan_of: Callable[[str], Plan]) -> None:
    limits = objects_in(plan_of("prod"), LIMITS, "greenlang-prod")["container-defaults"]
    (item,) = limits["spec"]["limits"]
    assert item["type"] == "Container"
    assert item["default"] == {"cpu": "500m", "memory": "512Mi"}
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "128Mi"}
    assert item["max"] == {"cpu": "8", "memory": "16Gi"}


def test_every_namespace_denies_by_default(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    for name in namespaces(plan):
        policies = objects_in(plan, NETPOL, name)
        deny = policies["default-deny"]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        dns = policies["allow-dns"]["spec"]["egress"][0]
        assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_workload_namespace_allows(plan_of: Callable[[str], Plan]) -> None:
    """The namespace denies everything but DNS and the VPC's HTTPS (API server, endpoints);
    every other flow is a per-workload policy of the services' chart, because a namespace-
    wide allow would add up with them and void them."""
    policies = objects_in(plan_of("prod"), NETPOL, "greenlang-prod")
    namespace_wide = {n for n, body in policies.items() if body["spec"]["podSelector"] == {}}
    assert namespace_wide == {"default-deny", "allow-dns", "allow-egress"}
    assert policies["allow-egress"]["spec"]["egress"] == [
        {"to": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]}
    ]
    gateway = policies["api-gateway"]["spec"]
    sources = [
        (peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], rule["ports"])
        for rule in gateway["ingress"]
        for peer in rule["from"]
    ]
    assert sources == [
        ("ingress-nginx", [{"port": 8080, "protocol": "TCP"}]),
        ("monitoring", [{"port": 9090, "protocol": "TCP"}]),
    ]
    # Only the LLM callers reach the internet, and only the providers' ranges on 443.
    llm = set(stack_settings("prod").services.llm_egress_cidrs)
    for name, body in policies.items():
        public = {
            peer["ipBlock"]["cidr"]
            for rule in body["spec"].get("egress") or []
            for peer in rule["to"]
            if "ipBlock" in peer
            and not ipaddress.ip_network(peer["ipBlock"]["cidr"]).is_private
            and rule["ports"] == [{"port": 443, "protocol": "TCP"}]
        }
        calls_llm = name in ("agent-factory", "agent-runtime", "worker")
        assert llm <= public if calls_llm else not public & llm, name


def test_rbac_subjects_and_verbs(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    roles = {
        r.inputs["metadata"]["name"]: r.inputs
        for r in plan.by_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")
    }
    bindings = {
        r.inputs["metadata"]["name"]: r.inputs
        for r in plan.by_type("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding")
    }
    # SREs are bound to the built-in cluster-admin; no home-made */*/* role exists.
    assert set(roles) == {"agent-factory-developer"}
    assert bindings["agent-factory-sre"]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "cluster-admin",
    }
    for role in roles.values():
        for rule in role["rules"]:
            assert "*" not in rule["verbs"]
    # The binding keeps its URN (only its roleRef, which is immutable, forces a replace).
    assert "prod-security-agent-factory-sre-binding" in by_name(
        plan, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
    )
    developer = roles["agent-factory-developer"]["rules"]
    verbs = {verb for rule in developer for verb in rule["verbs"]}
    assert verbs == {"get", "list", "watch"}
    resources = {res for rule in developer for res in rule["resources"]}
    assert "pods/log" in resources
    assert "secrets" not in resources and "pods/exec" not in resources
    assert bindings["agent-factory-sre"]["subjects"] == [
        {"kind": "Group", "name": "agent-factory:sre", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert bindings["agent-factory-developer"]["subjects"][0]["name"] == "agent-factory:developers"
    (cluster,) = plan.by_type("eks:index:Cluster")
    groups = {k: v["kubernetesGroups"] for k, v in cluster.inputs["accessEntries"].items()}
    assert groups == {
        "sre-admin-0": ["agent-factory:sre"],
        "developer-0": ["agent-factory:developers"],
    }


@pytest.mark.parametrize(
    ("account", "namespace"),
    [
        ("agent-factory", "greenlang-prod"),
        ("agent-runtime", "greenlang-prod"),
        ("monitoring", "monitoring"),
        ("cert-manager", "cert-manager"),
        ("external-secrets", "external-secrets"),
    ],
)
def test_irsa_roles_trust_exactly_their_service_account(
    plan_of: Callable[[str], Plan], account: str, namespace: str
) -> None:
    plan = plan_of("prod")
    role = by_name(plan, "aws:iam/role:Role")[f"prod-security-{account}-role"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    (sub,) = [v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert sub == f"system:serviceaccount:{namespace}:{account}"


def test_external_secrets_reads_only_platform_secrets(plan_of: Callable[[str], Plan]) -> None:
    policy = by_name(plan_of("prod"), "aws:iam/rolePolicy:RolePolicy")[
        "prod-security-external-secrets-policy"
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert statements[0]["Resource"].endswith(":secret:agent-factory-prod/*")
    assert all("*" not in s["Action"] for s in statements)


def test_ten_tenants_are_isolated(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    tenants = [r for r in plan.by_type("agentfactory:platform:Tenant")]
    assert len(tenants) == 10
    tenant_namespaces = {n: m for n, m in namespaces(plan).items() if n.startswith("tenant-")}
    assert len(tenant_namespaces) == 10
    assert tenant_namespaces["tenant-acme"]["labels"]["agent-factory.io/tier"] == "enterprise"
    for name in tenant_namespaces:
        policies = objects_in(plan, NETPOL, name)
        peers = [p for rule in policies["allow-ingress"]["spec"]["ingress"] for p in rule["from"]]
        # Only ingress-nginx and monitoring from outside: never another tenant.
        assert [
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in peers
        ] == ["ingress-nginx", "monitoring"]
        assert policies["allow-same-namespace"]["spec"]["ingress"] == [
            {"from": [{"podSelector": {}}]}
        ]
    quota = objects_in(plan, QUOTA, "tenant-wonka")["compute"]["spec"]["hard"]
    assert (quota["requests.cpu"], quota["requests.memory"]) == ("4", "8Gi")
    # The tenants' own (CI's deploy and preview roles have cluster-scope ones of their own).
    associations = [
        a
        for a in plan.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        if "agentfactory:platform:Tenant$" in a.urn
    ]
    assert len(associations) == 10
    scoped = {tuple(a.inputs["accessScope"]["namespaces"]) for a in associations}
    assert scoped == {(n,) for n in tenant_namespaces}
    assert all(a.inputs["accessScope"]["type"] == "namespace" for a in associations)


def test_a_tenant_costs_one_config_line() -> None:
    tenants = [{"name": f"t{n}", "tier": "small"} for n in range(12)]
    plan = synth_with("dev", security={"tenants": tenants})
    assert len(plan.by_type("agentfactory:platform:Tenant")) == 12


# Chart versions shown to exist upstream, with where (cert-manager v1.21.2 was not).
PUBLISHED_CHARTS = {
    # kubernetes/ingress-nginx charts/ingress-nginx/changelog/helm-chart-4.14.1.md;
    # kubernetes/k8s.io#8909 "Promote Chart v4.14.1/v4.13.5".
    "ingress-nginx": "4.14.1",
    # cert-manager/website#2216 "v1.21.1: patch release notes" (releases/tag/v1.21.1).
    "cert-manager": "v1.21.1",
    # Renovate "Update Helm release external-secrets to v2.10.0" (shaman007/home-k3s#682,
    # Ashpex/homelab#41) citing external-secrets releases/tag/v2.10.0.
    "external-secrets": "2.10.0",
}


@pytest.mark.parametrize(("release", "version"), PUBLISHED_CHARTS.items())
def test_charts_are_pinned(plan_of: Callable[[str], Plan], release: str, version: str) -> None:
    for stack in STACKS:
        chart = by_name(plan_of(stack), RELEASE)[f"{stack}-security-{release}"].inputs
        assert chart["version"] == version
        assert chart["namespace"] == release


def test_ingress_nginx_settings(plan_of: Callable[[str], Plan]) -> None:
    values = by_name(plan_of("prod"), RELEASE)["prod-security-ingress-nginx"].inputs["values"]
    controller = values["controller"]
    config = controller["config"]
    assert config["ssl-protocols"] == "TLSv1.2 TLSv1.3"
    assert (config["use-http2"], config["use-gzip"]) == ("true", "true")
    assert "rate=1000r/s" in config["http-snippet"]
    assert '"https://app.greenlang.ai" $http_origin;' in config["http-snippet"]
    annotations = controller["service"]["annotations"]
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert controller["allowSnippetAnnotations"] is False


def test_nginx_snippets_list_every_origin() -> None:
    snippets = nginx_snippets(50, ["https://a.example.com", "https://b.example.com"])
    assert "rate=50r/s" in snippets["http-snippet"]
    assert snippets["http-snippet"].count("$http_origin;") == 2
    assert "burst=100" in snippets["location-snippet"]


def test_cert_manager_issues_the_wildcard_over_dns01(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    resources = plan.by_type("kubernetes:cert-manager.io/v1:ClusterIssuer")
    (issuer,) = resources
    (solver,) = issuer.inputs["spec"]["acme"]["solvers"]
    assert solver["dns01"]["route53"]["region"] == "us-east-1"
    (certificate,) = plan.by_type("kubernetes:cert-manager.io/v1:Certificate")
    assert certificate.inputs["spec"]["dnsNames"] == ["greenlang.ai", "*.greenlang.ai"]
    assert certificate.inputs["metadata"]["namespace"] == "ingress-nginx"


def test_cluster_secret_store_uses_the_irsa_service_account(plan_of: Callable[[str], Plan]) -> None:
    (store,) = plan_of("prod").by_type("kubernetes:external-secrets.io/v1:ClusterSecretStore")
    aws = store.inputs["spec"]["provider"]["aws"]
    assert aws["service"] == "SecretsManager"
    assert aws["auth"]["jwt"]["serviceAccountRef"] == {
        "name": "external-secrets",
        "namespace": "external-secrets",
    }


def test_guardduty_and_cloudtrail(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    features = {
        f.inputs["name"]: f.inputs
        for f in plan.by_type("aws:guardduty/detectorFeature:DetectorFeature")
    }
    assert features["EKS_AUDIT_LOGS"]["status"] == "ENABLED"
    assert (
        features["RUNTIME_MONITORING"]["additionalConfigurations"][0]["name"]
        == "EKS_ADDON_MANAGEMENT"
    )
    (trail,) = plan.by_type("aws:cloudtrail/trail:Trail")
    assert trail.inputs["s3BucketName"] == "agent-factory-prod-audit-logs-123456789012"
    assert trail.inputs["enableLogFileValidation"] is True
    assert trail.inputs["isMultiRegionTrail"] is True
    keys = by_name(plan, "aws:kms/key:Key")
    assert trail.inputs["kmsKeyId"] == plan.states[keys["prod-keys-s3"].urn]["arn"]


def test_kms_keys_rotate_and_name_their_users(plan_of: Callable[[str], Plan]) -> None:
    keys = {
        name: key
        for name, key in by_name(plan_of("prod"), "aws:kms/key:Key").items()
        if name.startswith("prod-keys-")
    }
    assert len(keys) == 6
    for key in keys.values():
        assert key.inputs["enableKeyRotation"] is True
    s3 = json.loads(keys["prod-keys-s3"].inputs["policy"])["Statement"]
    assert {s["Sid"] for s in s3} >= {"AccountAdministration", "S3ViaService", "CloudTrailEncrypt"}
    data = json.loads(keys["prod-keys-data"].inputs["policy"])["Statement"][1]
    assert "rds.us-east-1.amazonaws.com" in data["Condition"]["StringEquals"]["kms:ViaService"]


# -- issue 12: what a first real deploy would trip on ---------------------------------------

SECURITY_RELEASES = ("ingress-nginx", "cert-manager", "external-secrets")
ROLE = "aws:iam/role:Role"


def hard(plan: Plan, namespace: str) -> dict[str, str]:
    return dict(objects_in(plan, QUOTA, namespace)["compute"]["spec"]["hard"])


@pytest.mark.parametrize("stack", STACKS)
def test_only_ingress_nginx_may_create_a_load_balancer(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    ingress = hard(plan, "ingress-nginx")
    # One NLB Service, which allocates a node port for each of its ports (80, 443).
    assert (ingress["services.loadbalancers"], ingress["services.nodeports"]) == ("1", "2")
    (release,) = [r for r in plan.by_type(RELEASE) if r.inputs["name"] == "ingress-nginx"]
    service = release.inputs["values"]["controller"]["service"]
    assert service["type"] == "LoadBalancer"
    assert (service["enableHttp"], service["enableHttps"]) == (True, True)
    assert len(INGRESS_PORTS) == 2
    for name in namespaces(plan):
        if name != "ingress-nginx":
            quota = hard(plan, name)
            assert (quota["services.loadbalancers"], quota["services.nodeports"]) == ("0", "0")


def test_quota_spec_carries_the_service_limits() -> None:
    spec = quota_spec(Quota(4, 8, 20, "1", "2Gi", load_balancers=1, node_ports=2))
    assert (spec["services.loadbalancers"], spec["services.nodeports"]) == ("1", "2")
    assert (spec["limits.cpu"], spec["limits.memory"]) == ("8", "8Gi")


@pytest.mark.parametrize(
    ("namespace", "base", "agent"),
    [("monitoring", MONITORING_QUOTA, NODE_EXPORTER), ("logging", PLATFORM_QUOTA, FLUENT_BIT)],
)
@pytest.mark.parametrize("stack", STACKS)
def test_daemonset_namespaces_hold_an_agent_on_every_node_the_pools_can_reach(
    plan_of: Callable[[str], Plan], stack: str, namespace: str, base: Quota, agent: Resources
) -> None:
    nodes = stack_settings(stack).max_node_count
    quota = hard(plan_of(stack), namespace)
    expected = {
        "requests.cpu": quantity(str(base.cpu)) + nodes * quantity(agent.cpu_request),
        "limits.cpu": quantity(str(base.cpu_limits)) + nodes * quantity(agent.cpu_limit),
        "requests.memory": quantity(f"{base.memory_gib}Gi")
        + nodes * quantity(agent.memory_request),
        "limits.memory": quantity(f"{base.memory_limits_gib}Gi")
        + nodes * quantity(agent.memory_limit),
        "pods": quantity(base.pods + nodes),
    }
    for key, amount in expected.items():
        assert quantity(quota[key]) == amount, key


def test_prod_monitoring_quota_at_185_nodes(plan_of: Callable[[str], Plan]) -> None:
    assert stack_settings("prod").max_node_count == 185
    quota = hard(plan_of("prod"), "monitoring")
    # 32 + 185 x 50m cores requested, 64 + 185 x 250m allowed, 300 + 185 pods.
    assert (quota["requests.cpu"], quota["limits.cpu"], quota["pods"]) == (
        "41250m",
        "110250m",
        "485",
    )


def test_with_daemonset_adds_requests_limits_and_pods() -> None:
    grown = with_daemonset(Quota(1, 1, 10, "1", "1Gi"), Resources("100m", "64Mi", "1", "1Gi"), 4)
    spec = quota_spec(grown)
    assert spec["requests.cpu"] == "1400m"
    assert spec["limits.cpu"] == "6"
    assert spec["requests.memory"] == "1280Mi"
    assert spec["limits.memory"] == "5Gi"
    assert spec["pods"] == "14"


def test_node_agents_fit_their_namespaces_limit_ranges(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    for namespace, agent in (("monitoring", NODE_EXPORTER), ("logging", FLUENT_BIT)):
        (item,) = objects_in(plan, LIMITS, namespace)["container-defaults"]["spec"]["limits"]
        assert quantity(agent.cpu_limit) <= quantity(item["max"]["cpu"])
        assert quantity(agent.memory_limit) <= quantity(item["max"]["memory"])


def footprints(plan: Plan) -> dict[str, dict[str, Any]]:
    return {f["release"]: f for _, f in component_outputs(plan, FOOTPRINTS_OUTPUT)}


def test_security_releases_declare_their_footprint(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    declared = footprints(plan)
    releases = {r.inputs["name"]: r.inputs for r in plan.by_type(RELEASE)}
    ingress = declared["ingress-nginx"]
    assert ingress["namespace"] == "ingress-nginx"
    assert {(s["type"], s["ports"]) for s in ingress["services"]} == {
        ("LoadBalancer", 2),
        ("ClusterIP", 1),
    }
    (controller,) = [w for w in ingress["workloads"] if w["name"] == "controller"]
    values = releases["ingress-nginx"]["values"]["controller"]
    assert controller["replicas"] == values["replicaCount"] == 3
    assert controller["containers"] == [values["resources"]]
    assert ingress["metrics"] == [
        {
            "prefixes": ["nginx_ingress_controller_"],
            "via": "ServiceMonitor/monitoring/ingress-nginx-controller",
        }
    ]
    cert_manager = declared["cert-manager"]
    assert sorted(cert_manager["crds"]) == ["acme.cert-manager.io", "cert-manager.io"]
    assert cert_manager["metrics"][0]["via"] == "ServiceMonitor/monitoring/cert-manager"
    values = releases["cert-manager"]["values"]
    by_workload = {w["name"]: w for w in cert_manager["workloads"]}
    assert by_workload["controller"]["containers"] == [values["resources"]]
    assert by_workload["webhook"]["containers"] == [values["webhook"]["resources"]]
    assert by_workload["cainjector"]["replicas"] == values["cainjector"]["replicaCount"]
    assert by_workload["startupapicheck"]["kind"] == "Job"
    external = declared["external-secrets"]
    assert sorted(external["crds"]) == ["external-secrets.io", "generators.external-secrets.io"]
    values = releases["external-secrets"]["values"]
    by_workload = {w["name"]: w for w in external["workloads"]}
    assert by_workload["controller"]["containers"] == [values["resources"]]
    assert by_workload["cert-controller"]["containers"] == [values["certController"]["resources"]]
    # Several controllers must elect a leader, or they reconcile the same objects twice.
    assert values["leaderElect"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_platform_charts_fit_their_quotas_and_limit_ranges(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    """Pods (surge included) and Services of this component's charts, and metrics-server
    and the cluster autoscaler in kube-system, against quota and LimitRange."""
    findings, examined = check_quotas(plan_of(stack))
    own = ("ingress-nginx", "cert-manager", "external-secrets", "kube-system")
    assert examined > 0
    assert [f.message for f in findings if f.subject.split()[1].split("/")[0] in own] == []


def test_custom_resources_wait_for_the_release_that_installs_their_crds(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    releases = {r.inputs["name"]: r.urn for r in plan.by_type(RELEASE)}
    for type_, release in (
        ("kubernetes:cert-manager.io/v1:ClusterIssuer", "cert-manager"),
        ("kubernetes:cert-manager.io/v1:Certificate", "cert-manager"),
        ("kubernetes:external-secrets.io/v1:ClusterSecretStore", "external-secrets"),
    ):
        for resource in plan.by_type(type_):
            assert releases[release] in resource.dependencies, type_
    findings, _ = check_order(plan)
    assert [f.message for f in findings if "-security-" in f.subject] == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_declares_the_account_service_linked_roles(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    """Per-account roles: no stack creates them (one per account, usually present)."""
    plan = plan_of(stack)
    assert not plan.by_type("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    declared = " ".join(p["what"] for _, p in component_outputs(plan, PREREQUISITES_OUTPUT))
    assert "AWSServiceRoleForAutoScaling" in declared
    assert "AWSServiceRoleForAmazonOpenSearchService" in declared


def _prod_account(plan_of: Callable[[str], Plan]) -> list[StackPlan]:
    return [
        StackPlan(plan_of(stack), stack_settings(stack).account, stack_settings(stack).region)
        for stack in STACKS
        if stack_settings(stack).account == "prod"
    ]


def test_stacks_sharing_an_account_share_no_global_name(plan_of: Callable[[str], Plan]) -> None:
    stacks = _prod_account(plan_of)
    assert len(stacks) == 3
    findings, examined = check_global_names(stacks)
    assert examined > 100
    assert [f.message for f in findings] == []


@pytest.mark.parametrize("stack", STACKS)
def test_tenant_admin_roles_are_per_stack_and_trust_only_the_tenant(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    plan = plan_of(stack)
    tenants = stack_settings(stack).security.tenants
    roles = by_name(plan, ROLE)
    for tenant in tenants:
        role = roles[f"{stack}-security-tenant-{tenant.name}-admin"].inputs
        assert role["name"] == f"AgentFactoryTenant-{tenant.name}-{stack}"
        assert len(role["name"]) <= 64
        (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
        assert statement["Condition"] == {
            "ArnLike": {
                "aws:PrincipalArn": [
                    f"arn:aws:iam::123456789012:role/AgentFactoryTenantAdmin-{tenant.name}"
                ]
            }
        }
    # No role anywhere trusts the account root without a condition.
    for role in plan.by_type(ROLE):
        for statement in json.loads(role.inputs["assumeRolePolicy"])["Statement"]:
            if str(statement["Principal"].get("AWS", "")).endswith(":root"):
                assert statement.get("Condition"), role.name


def test_tenant_admin_principals_are_configurable() -> None:
    plan = synth_with(
        "dev",
        security={
            "tenants": [
                {
                    "name": "sandbox",
                    "tier": "small",
                    "adminPrincipals": ["aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Sb_*"],
                }
            ]
        },
    )
    role = by_name(plan, ROLE)["dev-security-tenant-sandbox-admin"]
    (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Sb_*"
    ]
    with pytest.raises(SynthError, match=r"security\.tenants\.0\.adminPrincipals: applies only"):
        synth_with(
            "dev",
            security={
                "tenants": [
                    {"name": "s", "tier": "small", "adminRole": "R", "adminPrincipals": ["X"]}
                ]
            },
        )


def test_long_role_names_stay_unique_within_64_characters() -> None:
    a = bounded_name(f"AgentFactoryTenant-{'a' * 40}-prod-us-west-2")
    b = bounded_name(f"AgentFactoryTenant-{'a' * 40}-prod-eu-west-1")
    assert len(a) == len(b) == 64
    assert a != b


def test_monitoring_role_queries_only_the_stacks_log_groups(
    plan_of: Callable[[str], Plan],
) -> None:
    policy = by_name(plan_of("prod"), "aws:iam/rolePolicy:RolePolicy")[
        "prod-security-monitoring-policy"
    ]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if statement["Resource"] == "*":
            assert set(actions) <= set(UNSCOPED_READ_ACTIONS), actions
    (query,) = [s for s in statements if "logs:StartQuery" in s["Action"]]
    assert query["Resource"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/*/agent-factory-prod*"
    )


def test_cloudtrail_delivers_to_an_encrypted_log_group(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (trail,) = plan.by_type("aws:cloudtrail/trail:Trail")
    group = by_name(plan, "aws:cloudwatch/logGroup:LogGroup")["prod-security-trail-logs"]
    group_state = plan.states[group.urn]
    assert group.inputs["name"] == "/aws/cloudtrail/agent-factory-prod"
    assert group.inputs["retentionInDays"] == 365
    logs_key = by_name(plan, "aws:kms/key:Key")["prod-keys-logs"]
    assert group.inputs["kmsKeyId"] == plan.states[logs_key.urn]["arn"]
    assert trail.inputs["cloudWatchLogsGroupArn"] == f"{group_state['arn']}:*"
    role = by_name(plan, ROLE)["prod-security-trail-logs-role"]
    assert trail.inputs["cloudWatchLogsRoleArn"] == plan.states[role.urn]["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "123456789012",
        "aws:SourceArn": "arn:aws:cloudtrail:us-east-1:123456789012:trail/agent-factory-prod-trail",
    }
    policy = by_name(plan, "aws:iam/rolePolicy:RolePolicy")["prod-security-trail-logs-policy"]
    (write,) = json.loads(policy.inputs["policy"])["Statement"]
    assert write["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert write["Resource"] == f"{group_state['arn']}:log-stream:*"
    assert policy.urn in trail.dependencies
    (security,) = plan.by_type("agentfactory:platform:Security")
    assert security.outputs["trailLogGroupName"] == "/aws/cloudtrail/agent-factory-prod"
    assert trail.protect


def test_a_stack_without_a_trail_has_no_trail_log_group(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod-us-west-2")
    assert not plan.by_type("aws:cloudtrail/trail:Trail")
    assert "prod-us-west-2-security-trail-logs" not in by_name(
        plan, "aws:cloudwatch/logGroup:LogGroup"
    )
    (security,) = plan.by_type("agentfactory:platform:Security")
    assert security.outputs.get("trailLogGroupName") is None


def test_one_detector_per_account_and_region_and_one_account_wide_trail() -> None:
    """GuardDuty takes one detector per account and region; a multi-region trail already
    records every region of its account, so a second one only doubles the bill."""
    detectors: dict[tuple[str, str], list[str]] = {}
    trails: dict[str, list[str]] = {}
    for stack in STACKS:
        settings = stack_settings(stack)
        if settings.security.guard_duty:
            detectors.setdefault((settings.account, settings.region), []).append(stack)
        if settings.security.cloudtrail and settings.role != "secondary":
            trails.setdefault(settings.account, []).append(stack)
    assert all(len(owners) == 1 for owners in detectors.values()), detectors
    assert all(len(owners) == 1 for owners in trails.values()), trails


# -- schema validation --------------------------------------------------------------------

# Kinds defined by CRDs that the charts install: no upstream schema to validate against.
CRD_KINDS = {
    "VolumeSnapshotClass",
    "AppProject",
    "ApplicationSet",
    "Application",
    "ScaledObject",
    "TriggerAuthentication",
    "VerticalPodAutoscaler",
    "ClusterIssuer",
    "Certificate",
    "ClusterSecretStore",
    "ExternalSecret",
    "PrometheusRule",
    "ServiceMonitor",
    "PodMonitor",
    "Probe",
    # Validated against its schema subset in tests/test_admission.py.
    "ClusterPolicy",
    # The services' Argo Rollouts kinds: tests/test_chart.py validates a Rollout's pod
    # template as a PodTemplate and both envelopes against tests/argo_schemas.py.
    "Rollout",
    "AnalysisTemplate",
}


def without_secrets(value: Any) -> Any:
    """Secret values are opaque offline ("[secret]"); drop them, validate the rest."""
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items() if v != "[secret]"}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def manifests(plan: Plan) -> list[PlannedResource]:
    return [
        r
        for r in plan.resources
        if r.type.startswith("kubernetes:")
        and not r.type.startswith("kubernetes:helm.sh")
        and r.custom
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_kubernetes_objects_match_the_cluster_schema(
    plan_of: Callable[[str], Plan], stack: str
) -> None:
    checked = 0
    for resource in manifests(plan_of(stack)):
        body = without_secrets(resource.inputs)
        if body["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(body, f"{KUBERNETES_VERSION}.0", strict=True)
        checked += 1
    assert checked > 50


def test_schema_validation_catches_a_misspelled_field() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "compute", "namespace": "x"},
        "spec": {"hardd": {"pods": "1"}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, f"{KUBERNETES_VERSION}.0", strict=True)

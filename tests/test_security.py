"""Security under mocks: namespaces, quotas, network policies, RBAC, tenants, charts, guards."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from components.security import nginx_snippets
from components.settings import KUBERNETES_VERSION
from tests.conftest import ENVIRONMENTS, STACKS, by_name, synth_with
from tests.test_settings import stack_settings
from tools.gate import load_policy_config
from tools.synth import Plan, PlannedResource

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMITS = "kubernetes:core/v1:LimitRange"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
RELEASE = "kubernetes:helm.sh/v3:Release"
PLATFORM = {
    "greenlang-system",
    "monitoring",
    "ingress-nginx",
    "cert-manager",
    "external-secrets",
    "logging",
    "tracing",
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
    policies = objects_in(plan_of("prod"), NETPOL, "greenlang-prod")
    sources = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in policies["allow-ingress"]["spec"]["ingress"]
        for peer in rule["from"]
    ]
    assert sources == ["ingress-nginx", "monitoring"]
    egress = policies["allow-egress"]["spec"]["egress"]
    data_cidrs = {str(c) for c in stack_settings("prod").network.subnets.data}
    to_data = {
        r["to"][0]["ipBlock"]["cidr"] for r in egress if r["to"][0]["ipBlock"]["cidr"] in data_cidrs
    }
    assert to_data == data_cidrs
    internet = [r for r in egress if r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"]
    assert internet[0]["ports"] == [{"protocol": "TCP", "port": 443}]
    assert "10.0.0.0/8" in internet[0]["to"][0]["ipBlock"]["except"]
    assert "169.254.169.254/32" in internet[0]["to"][0]["ipBlock"]["except"]


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
    assert roles["agent-factory-sre"]["rules"][0] == {
        "apiGroups": ["*"],
        "resources": ["*"],
        "verbs": ["*"],
    }
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
    associations = plan.by_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    scoped = {tuple(a.inputs["accessScope"]["namespaces"]) for a in associations}
    assert scoped == {(n,) for n in tenant_namespaces}
    assert all(a.inputs["accessScope"]["type"] == "namespace" for a in associations)


def test_a_tenant_costs_one_config_line() -> None:
    tenants = [{"name": f"t{n}", "tier": "small"} for n in range(12)]
    plan = synth_with("dev", security={"tenants": tenants})
    assert len(plan.by_type("agentfactory:platform:Tenant")) == 12


@pytest.mark.parametrize(
    ("release", "version"),
    [("ingress-nginx", "4.14.1"), ("cert-manager", "v1.21.2"), ("external-secrets", "2.10.0")],
)
def test_charts_are_pinned(plan_of: Callable[[str], Plan], release: str, version: str) -> None:
    chart = by_name(plan_of("prod"), RELEASE)[f"prod-security-{release}"].inputs
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
    keys = by_name(plan_of("prod"), "aws:kms/key:Key")
    assert len(keys) == 6
    for key in keys.values():
        assert key.inputs["enableKeyRotation"] is True
    s3 = json.loads(keys["prod-keys-s3"].inputs["policy"])["Statement"]
    assert {s["Sid"] for s in s3} >= {"AccountAdministration", "S3ViaService", "CloudTrailEncrypt"}
    data = json.loads(keys["prod-keys-data"].inputs["policy"])["Statement"][1]
    assert "rds.us-east-1.amazonaws.com" in data["Condition"]["StringEquals"]["kms:ViaService"]


# -- schema validation --------------------------------------------------------------------

# Kinds defined by CRDs that the charts install: no upstream schema to validate against.
CRD_KINDS = {
    "ClusterIssuer",
    "Certificate",
    "ClusterSecretStore",
    "ExternalSecret",
    "PrometheusRule",
    "ServiceMonitor",
    "Probe",
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

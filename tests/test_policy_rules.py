# ruff: noqa: E501 - case tables read best one case per line
"""The rules of the areas issue 13 added, each compliant and violating through the gRPC
analyzer, and each with unknown values: in a property it does not read (the verdict must
stay mandatory) and in the property it reads (the verdict waits, as an advisory note)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from tests.policy_helpers import (
    K8S_LABELS,
    UNKNOWN,
    mandatory,
    resource,
    undecided,
    verdicts,
    violations,
    with_value,
)
from tools.gate import policy_server
from tools.synth import PlannedResource

ACCOUNT = "123456789012"
KMS = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
SRE = f"arn:aws:iam::{ACCOUNT}:role/AgentFactorySRE"
DEVELOPER = f"arn:aws:iam::{ACCOUNT}:role/AgentFactoryDeveloper"
TENANT = f"arn:aws:iam::{ACCOUNT}:role/AgentFactoryTenant-acme-test"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    with policy_server() as analyzer:
        yield analyzer


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource_: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource_, **extra}


def meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "labels": K8S_LABELS}
    if namespace:
        m["namespace"] = namespace
    return m


class Case(NamedTuple):
    rule: str
    type: str
    good: dict[str, Any]
    bad: dict[str, Any]
    # A property the rule reads: unknown in ``good``, the rule must wait (advisory note).
    own: str
    # Another property the rule reads, made unknown in ``bad``: the known violation stays.
    other: str | None = None


RDS = "aws:rds/instance:Instance"
GOOD_RDS = {
    "engine": "postgres",
    "engineVersion": "18",
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "db-final",
    "iamDatabaseAuthenticationEnabled": True,
    "performanceInsightsEnabled": True,
    "performanceInsightsKmsKeyId": KMS,
    "manageMasterUserPassword": True,
}
POD_OF_NS = {
    "podSelector": {},
    "policyTypes": ["Egress"],
    "egress": [
        {
            "to": [
                {
                    "ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": ["10.0.0.0/8", "169.254.169.254/32"],
                    }
                }
            ],
            "ports": [{"port": 443, "protocol": "TCP"}],
        }
    ],
}
GOOD_VALUES = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
    "image": {"tag": "v1.2.3"},
    "controller": {"allowSnippetAnnotations": False},
}
HELM = "kubernetes:helm.sh/v3:Release"
RELEASE = {
    "chart": "ingress-nginx",
    "version": "4.14.1",
    "namespace": "ingress-nginx",
    "repositoryOpts": {"repo": "https://kubernetes.github.io/ingress-nginx"},
}

CASES: list[Case] = [
    # -- IAM -------------------------------------------------------------------------------
    Case("iam-no-admin-wildcards", "aws:iam/role:Role",
         {"inlinePolicies": [{"name": "p", "policy": doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))}]},
         {"inlinePolicies": [{"name": "p", "policy": doc(allow("s3:*", "arn:aws:s3:::*"))}]},
         "inlinePolicies.0.policy"),
    Case("iam-no-admin-wildcards", "aws:iam/policy:Policy",
         {"policy": doc(allow("kms:Decrypt", KMS))},
         {"policy": doc(allow("kms:*", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"))},
         "policy"),
    Case("iam-no-not-elements", "aws:iam/rolePolicy:RolePolicy",
         {"policy": doc(allow("s3:GetObject", "arn:aws:s3:::b/*"))},
         {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})},
         "policy"),
    Case("iam-no-privilege-escalation", "aws:iam/rolePolicy:RolePolicy",
         {"policy": doc(allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app"))},
         {"policy": doc(allow(["iam:Put*"], "*"))},
         "policy"),
    Case("iam-no-privilege-escalation", "aws:iam/rolePolicy:RolePolicy",
         {"policy": doc(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/app"))},
         {"policy": doc(allow("iam:PassRole", "arn:aws:iam::*:role/app"))},
         "policy"),
    Case("iam-no-admin-managed-policies", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
         {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
         {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
         "policyArn"),
    Case("iam-no-admin-managed-policies", "aws:iam/role:Role",
         {"managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]},
         {"managedPolicyArns": ["arn:aws:iam::aws:policy/PowerUserAccess"]},
         "managedPolicyArns"),
    # -- resource policies with public principals -------------------------------------------
    Case("resource-policy-not-public", "aws:kms/key:Key",
         {"enableKeyRotation": True, "policy": doc(allow("kms:Decrypt", "*", Principal={"AWS": "*"},
                                                          Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}}))},
         {"enableKeyRotation": True, "policy": doc(allow("kms:Decrypt", "*", Principal={"AWS": "*"}))},
         "policy", "enableKeyRotation"),
    Case("resource-policy-not-public", "aws:s3/bucketPolicy:BucketPolicy",
         {"bucket": "b", "policy": doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"Service": "logging.s3.amazonaws.com"}))},
         {"bucket": "b", "policy": doc(allow("s3:GetObject", "arn:aws:s3:::b/*", Principal="*",
                                             Condition={"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}))},
         "policy"),
    Case("resource-policy-not-public", "aws:secretsmanager/secretPolicy:SecretPolicy",
         {"secretArn": "s", "policy": doc(allow("secretsmanager:GetSecretValue", "*", Principal={"AWS": SRE}))},
         {"secretArn": "s", "policy": doc(allow("secretsmanager:GetSecretValue", "*", Principal={"AWS": "*"},
                                                Condition={"StringLike": {"aws:PrincipalAccount": "*"}}))},
         "policy"),
    Case("resource-policy-not-public", "aws:sns/topicPolicy:TopicPolicy",
         {"arn": "t", "policy": doc(allow("sns:Publish", "*", Principal={"Service": "cloudwatch.amazonaws.com"}))},
         {"arn": "t", "policy": doc(allow("sns:Publish", "*", Principal="*",
                                          Condition={"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}}))},
         "policy"),
    Case("resource-policy-not-public", "aws:opensearch/domain:Domain",
         {"accessPolicies": doc(allow("es:ESHttpGet", "*", Principal={"AWS": SRE}))},
         {"accessPolicies": doc({"Effect": "Allow", "NotPrincipal": {"AWS": SRE}, "Action": "es:*", "Resource": "*"})},
         "accessPolicies"),
    # -- network -----------------------------------------------------------------------------
    Case("launch-template-no-public-ip", "aws:ec2/launchTemplate:LaunchTemplate",
         {"networkInterfaces": [{"associatePublicIpAddress": "false"}]},
         {"networkInterfaces": [{"associatePublicIpAddress": "true"}]},
         "networkInterfaces.0.associatePublicIpAddress"),
    Case("eks-nodegroup-hardened", "aws:eks/nodeGroup:NodeGroup",
         {"launchTemplate": {"id": "lt-1", "version": "1"}},
         {"launchTemplate": {"id": "lt-1", "version": "1"}, "remoteAccess": {"ec2SshKey": "ops"}},
         "remoteAccess", "launchTemplate"),
    Case("eks-nodegroup-hardened", "aws:eks/nodeGroup:NodeGroup",
         {"launchTemplate": {"id": "lt-1", "version": "1"}},
         {"instanceTypes": ["m6i.large"]},
         "remoteAccess"),
    # -- EKS -------------------------------------------------------------------------------------
    Case("eks-auth-mode-api", "eks:index:Cluster",
         {"authenticationMode": "API"}, {"authenticationMode": "API_AND_CONFIG_MAP"},
         "authenticationMode", "deletionProtection"),
    Case("eks-auth-mode-api", "aws:eks/cluster:Cluster",
         {"accessConfig": {"authenticationMode": "API"}}, {"accessConfig": {"authenticationMode": "CONFIG_MAP"}},
         "accessConfig.authenticationMode"),
    Case("eks-deletion-protection", "eks:index:Cluster",
         {"deletionProtection": True}, {"deletionProtection": False}, "deletionProtection",
         "authenticationMode"),
    Case("eks-network-policy-enforced", "eks:index:Cluster",
         {"vpcCniOptions": {"enableNetworkPolicy": True}}, {"vpcCniOptions": {"enableNetworkPolicy": False}},
         "vpcCniOptions.enableNetworkPolicy"),
    Case("eks-network-policy-enforced", "aws:eks/addon:Addon",
         {"addonName": "vpc-cni", "configurationValues": json.dumps({"enableNetworkPolicy": "true"})},
         {"addonName": "vpc-cni", "configurationValues": json.dumps({"env": {}})},
         "configurationValues"),
    Case("eks-cluster-admin-access", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
         {"principalArn": SRE, "policyArn": CLUSTER_ADMIN, "accessScope": {"type": "cluster"}},
         {"principalArn": DEVELOPER, "policyArn": CLUSTER_ADMIN, "accessScope": {"type": "cluster"}},
         "principalArn"),
    Case("eks-cluster-admin-access", "aws:eks/accessEntry:AccessEntry",
         {"principalArn": DEVELOPER, "kubernetesGroups": ["agent-factory:developers"]},
         {"principalArn": DEVELOPER, "kubernetesGroups": ["agent-factory:sre"]},
         "kubernetesGroups"),
    Case("eks-cluster-admin-access", "eks:index:Cluster",
         {"accessEntries": {"dev": {"principalArn": DEVELOPER, "accessPolicies": {"v": {
             "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "accessScope": {"type": "cluster"}}}}}},
         {"accessEntries": {"dev": {"principalArn": DEVELOPER, "accessPolicies": {"a": {
             "policyArn": ADMIN_POLICY, "accessScope": {"type": "cluster"}}}}}},
         "accessEntries.dev.accessPolicies.v.policyArn"),
    Case("eks-tenant-access-scoped", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
         {"principalArn": TENANT, "policyArn": ADMIN_POLICY, "accessScope": {"type": "namespace", "namespaces": ["tenant-acme"]}},
         {"principalArn": TENANT, "policyArn": ADMIN_POLICY, "accessScope": {"type": "namespace", "namespaces": ["tenant-globex"]}},
         "principalArn"),
    Case("eks-tenant-access-scoped", "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
         {"principalArn": SRE, "policyArn": ADMIN_POLICY, "accessScope": {"type": "namespace", "namespaces": ["monitoring"]}},
         {"principalArn": DEVELOPER, "policyArn": ADMIN_POLICY, "accessScope": {"type": "namespace", "namespaces": ["tenant-*"]}},
         "principalArn"),
    # -- Kubernetes ------------------------------------------------------------------------------
    Case("k8s-egress-no-imds", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
         {"metadata": meta("allow-egress", "tenant-acme"), "spec": POD_OF_NS},
         {"metadata": meta("allow-egress", "tenant-acme"),
          "spec": with_value(POD_OF_NS, "egress.0.to.0.ipBlock.except", ["10.0.0.0/8"])},
         "spec.egress.0.to.0.ipBlock.except.1"),
    Case("k8s-egress-no-imds", "kubernetes:networking.k8s.io/v1:NetworkPolicy",
         {"metadata": meta("allow-egress", "tenant-acme"), "spec": POD_OF_NS},
         {"metadata": meta("allow-egress", "tenant-acme"), "spec": with_value(POD_OF_NS, "egress.0.to", [])},
         "metadata.namespace"),
    Case("k8s-no-public-bindings", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
         {"metadata": meta("b"), "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "Group", "name": "agent-factory:developers"}]},
         {"metadata": meta("b"), "roleRef": {"kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
         "subjects.0.name"),
    Case("k8s-sa-token-declared", "kubernetes:core/v1:ServiceAccount",
         {"metadata": meta("app", "greenlang-prod"), "automountServiceAccountToken": False},
         {"metadata": meta("app", "greenlang-prod")},
         "automountServiceAccountToken"),
    Case("k8s-tenant-services-internal", "kubernetes:core/v1:Service",
         {"metadata": meta("web", "tenant-acme"), "spec": {"type": "ClusterIP"}},
         {"metadata": meta("web", "tenant-acme"), "spec": {"type": "LoadBalancer"}},
         "spec.type", "spec.externalIPs"),
    Case("k8s-tenant-services-internal", "kubernetes:core/v1:Service",
         {"metadata": meta("web", "tenant-acme"), "spec": {"type": "ClusterIP"}},
         {"metadata": meta("web", "tenant-acme"), "spec": {"type": "NodePort"}},
         "metadata.namespace"),
    Case("k8s-storage-class-encrypted", "kubernetes:storage.k8s.io/v1:StorageClass",
         {"metadata": meta("gp3"), "provisioner": "ebs.csi.aws.com", "parameters": {"encrypted": "true", "kmsKeyId": KMS}},
         {"metadata": meta("gp3"), "provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3", "kmsKeyId": KMS}},
         "parameters.encrypted", "parameters.kmsKeyId"),
    # -- data ---------------------------------------------------------------------------------------
    Case("s3-no-force-destroy", "aws:s3/bucket:Bucket",
         {"bucket": "b", "forceDestroy": False}, {"bucket": "b", "forceDestroy": True}, "forceDestroy"),
    Case("rds-final-snapshot", RDS, GOOD_RDS, {**GOOD_RDS, "skipFinalSnapshot": True},
         "skipFinalSnapshot", "finalSnapshotIdentifier"),
    Case("rds-iam-auth", RDS, GOOD_RDS, {**GOOD_RDS, "iamDatabaseAuthenticationEnabled": False},
         "iamDatabaseAuthenticationEnabled"),
    Case("rds-engine-supported", RDS, GOOD_RDS, {**GOOD_RDS, "engine": "mysql"}, "engine"),
    Case("rds-engine-supported", RDS, GOOD_RDS, {**GOOD_RDS, "engineVersion": "13"}, "engineVersion"),
    Case("rds-performance-insights-cmk", RDS, GOOD_RDS,
         {**GOOD_RDS, "performanceInsightsKmsKeyId": None}, "performanceInsightsEnabled"),
    Case("rds-managed-master-password", RDS, GOOD_RDS,
         {**GOOD_RDS, "manageMasterUserPassword": False, "password": "[secret]"},
         "manageMasterUserPassword"),
    Case("msk-authenticated-private", "aws:msk/cluster:Cluster",
         {"clientAuthentication": {"sasl": {"iam": True}, "unauthenticated": False}},
         {"clientAuthentication": {"sasl": {"iam": True}, "unauthenticated": True}},
         "clientAuthentication.unauthenticated"),
    Case("msk-authenticated-private", "aws:msk/cluster:Cluster",
         {"clientAuthentication": {"sasl": {"iam": True}},
          "brokerNodeGroupInfo": {"connectivityInfo": {"publicAccess": {"type": "DISABLED"}}}},
         {"clientAuthentication": {"sasl": {"iam": True}},
          "brokerNodeGroupInfo": {"connectivityInfo": {"publicAccess": {"type": "SERVICE_PROVIDED_EIPS"}}}},
         "brokerNodeGroupInfo.connectivityInfo.publicAccess.type", "clientAuthentication.sasl.iam"),
    Case("opensearch-private-fgac", "aws:opensearch/domain:Domain",
         {"vpcOptions": {"subnetIds": ["subnet-1"]}, "advancedSecurityOptions": {"enabled": True},
          "encryptAtRest": {"enabled": True, "kmsKeyId": KMS}},
         {"advancedSecurityOptions": {"enabled": True}, "encryptAtRest": {"enabled": True, "kmsKeyId": KMS}},
         "advancedSecurityOptions.enabled", "encryptAtRest.kmsKeyId"),
    Case("log-group-retention", "aws:cloudwatch/logGroup:LogGroup",
         {"kmsKeyId": KMS, "retentionInDays": 365}, {"kmsKeyId": KMS, "retentionInDays": 7},
         "retentionInDays", "kmsKeyId"),
    Case("secret-recovery-window", "aws:secretsmanager/secret:Secret",
         {"kmsKeyId": KMS, "recoveryWindowInDays": 30}, {"kmsKeyId": KMS, "recoveryWindowInDays": 0},
         "recoveryWindowInDays"),
    # -- audit and detection -----------------------------------------------------------------------
    Case("cloudtrail-configured", "aws:cloudtrail/trail:Trail",
         {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KMS, "s3BucketName": "a"},
         {"isMultiRegionTrail": False, "enableLogFileValidation": True, "kmsKeyId": KMS, "s3BucketName": "a"},
         "isMultiRegionTrail", "enableLogFileValidation"),
    Case("cloudtrail-configured", "aws:cloudtrail/trail:Trail",
         {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KMS},
         {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KMS, "enableLogging": False},
         "enableLogging", "kmsKeyId"),
    # -- Helm values and sources ----------------------------------------------------------------------
    Case("helm-values-pod-security", HELM, {**RELEASE, "values": GOOD_VALUES},
         {**RELEASE, "values": with_value(GOOD_VALUES, "securityContext.runAsUser", 0)},
         "values.securityContext.runAsUser", "values.image.tag"),
    Case("helm-values-pod-security", HELM, {**RELEASE, "values": GOOD_VALUES},
         {**RELEASE, "values": with_value(GOOD_VALUES, "controller.allowSnippetAnnotations", True)},
         "values.image.tag"),
    Case("helm-values-pod-security", HELM, {**RELEASE, "values": GOOD_VALUES},
         {**RELEASE, "values": with_value(GOOD_VALUES, "daemonset.hostNetwork", True)},
         "values"),
    Case("helm-values-pod-security", HELM, {**RELEASE, "values": GOOD_VALUES},
         {**RELEASE, "values": with_value(GOOD_VALUES, "image.tag", "latest")},
         "values.securityContext.runAsNonRoot"),
    Case("helm-allowed-repository", HELM, RELEASE,
         {**RELEASE, "repositoryOpts": {"repo": "https://kubernetes.github.io/ingress-nginx.evil.example"}},
         "repositoryOpts.repo", "version"),
    Case("pss-read-only-root-filesystem", "kubernetes:apps/v1:DeploymentPatch",
         {"metadata": meta("api", "greenlang-prod"), "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}},
         {"metadata": meta("api", "greenlang-prod"), "spec": {"template": {"spec": {"containers": [
             {"name": "a", "securityContext": {"readOnlyRootFilesystem": False}}]}}}},
         "spec.template.spec.containers.0.securityContext.readOnlyRootFilesystem"),
    Case("pss-not-privileged", "kubernetes:core/v1:ReplicationControllerPatch",
         {"metadata": meta("api"), "spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}},
         {"metadata": meta("api"), "spec": {"template": {"spec": {"containers": [
             {"name": "a", "securityContext": {"privileged": True}}]}}}},
         "spec.template.spec.containers.0.securityContext.privileged"),
]  # fmt: skip
IDS = [f"{c.rule}-{c.type.rsplit(':', 1)[-1]}-{i}" for i, c in enumerate(CASES)]


def _subject(case: Case, inputs: dict[str, Any]) -> PlannedResource:
    return resource(case.type, inputs)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compliant(stub: Any, case: Case) -> None:
    assert case.rule not in violations(stub, [_subject(case, case.good)])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_violating_is_mandatory(stub: Any, case: Case) -> None:
    assert case.rule in mandatory(stub, [_subject(case, case.bad)])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unknown_property_it_does_not_read_keeps_the_verdict(stub: Any, case: Case) -> None:
    """The pack once copied every property through the SDK's proxy, so one unknown input
    anywhere turned a mandatory violation into an advisory "can't run during preview"."""
    inputs = {**case.bad, "unreadByAnyRule": UNKNOWN, "description": UNKNOWN}
    assert case.rule in mandatory(stub, [_subject(case, inputs)])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unknown_property_it_reads_waits(stub: Any, case: Case) -> None:
    subject = _subject(case, with_value(case.good, case.own, UNKNOWN))
    assert case.rule not in mandatory(stub, [subject])
    assert case.rule in undecided(stub, [subject])


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.other],
    ids=[i for i, c in zip(IDS, CASES, strict=True) if c.other],
)
def test_known_violation_stays_mandatory_beside_an_unknown_of_the_same_rule(
    stub: Any, case: Case
) -> None:
    assert case.other is not None
    subject = _subject(case, with_value(case.bad, case.other, UNKNOWN))
    assert case.rule in mandatory(stub, [subject])


def test_helm_values_host_access_is_allowed_only_in_exempt_namespaces(stub: Any) -> None:
    values = {"prometheus-node-exporter": {"hostNetwork": True, "hostPID": True}}
    release = resource(HELM, {**RELEASE, "namespace": "monitoring", "values": values})
    assert "helm-values-pod-security" in violations(stub, [release])
    exempt = {"helm-values-pod-security": {"exemptions": {"monitoring": "node-exporter"}}}
    assert "helm-values-pod-security" not in violations(stub, [release], exempt)
    latest = resource(HELM, {**RELEASE, "namespace": "monitoring", "values": {"image": "x:latest"}})
    assert "helm-values-pod-security" in violations(stub, [latest], exempt)


def test_oci_chart_source_is_its_whole_registry_path(stub: Any) -> None:
    chart = {"chart": "oci://charts.jetstack.io.evil.example/cert-manager", "version": "1.0.0"}
    assert "helm-allowed-repository" in violations(stub, [resource(HELM, chart)])
    local = {"chart": "./charts/agent-factory", "version": "1.0.0"}
    assert "helm-allowed-repository" not in violations(stub, [resource(HELM, local)])


# -- stack rules ------------------------------------------------------------------------------


def _trust(statement: dict[str, Any], name: str = "role") -> PlannedResource:
    return resource("aws:iam/role:Role", {"assumeRolePolicy": doc(statement)}, name=name)


IRSA = {
    "Effect": "Allow",
    "Principal": {"Federated": OIDC},
    "Action": "sts:AssumeRoleWithWebIdentity",
    "Condition": {
        "StringEquals": {
            f"{ISSUER}:sub": "system:serviceaccount:kube-system:app",
            f"{ISSUER}:aud": "sts.amazonaws.com",
        }
    },
}
OWN = {"iam-trust-policy": {"accountId": ACCOUNT}}


@pytest.mark.parametrize(
    ("statement", "ok"),
    [
        (IRSA, True),
        ({**IRSA, "Condition": {"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:kube-system:*"}}}, False),
        ({**IRSA, "Condition": {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"}}}, False),
        ({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}, True),
        ({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}, False),
        ({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole",
          "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}, False),
        ({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}, False),
        ({"Effect": "Allow", "Principal": {"AWS": "999999999999"}, "Action": "sts:AssumeRole",
          "Condition": {"StringEquals": {"sts:ExternalId": "agent-factory-7f3a"}}}, True),
        ({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}, True),
        ({"Effect": "Allow", "NotPrincipal": {"AWS": SRE}, "Action": "sts:AssumeRole"}, False),
    ],
)  # fmt: skip
def test_trust_policies(stub: Any, statement: dict[str, Any], ok: bool) -> None:
    found = violations(stub, [_trust(statement)], OWN)
    assert ("iam-trust-policy" not in found) is ok, found.get("iam-trust-policy")


def test_foreign_account_may_be_allow_listed_and_own_account_is_the_plans(stub: Any) -> None:
    foreign = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
        "Action": "sts:AssumeRole",
    }
    listed = {"iam-trust-policy": {"accountId": ACCOUNT, "trustedAccounts": ["999999999999"]}}
    assert "iam-trust-policy" not in violations(stub, [_trust(foreign)], listed)
    # Without accountId the account most ARNs of the plan name is the stack's own.
    own = [_trust({**IRSA}, name=f"irsa-{n}") for n in range(3)]
    assert "iam-trust-policy" in violations(stub, [*own, _trust(foreign, name="foreign")])


def test_trust_policy_unknown_waits_and_known_violations_stay(stub: Any) -> None:
    open_role = _trust(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}, "open"
    )
    pending = resource("aws:iam/role:Role", {"assumeRolePolicy": UNKNOWN}, name="pending")
    found = verdicts(stub, [open_role, pending], OWN)
    trust = [v for v in found if v.rule == "iam-trust-policy"]
    assert {(v.urn.rsplit("::", 1)[-1], v.level, v.undecided) for v in trust} == {
        ("open", "mandatory", False),
        ("", "advisory", True),
    }
    assert any("pending: assumeRolePolicy" in v.message for v in trust if v.undecided)


class Net(NamedTuple):
    vpc: PlannedResource
    igw: PlannedResource
    public_rt: PlannedResource
    private_rt: PlannedResource
    data: PlannedResource
    private: PlannedResource
    resources: list[PlannedResource]


def network(data_routes_to_igw: bool = False) -> Net:
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, name="vpc")
    on_vpc = {"vpcId": [vpc.urn]}
    igw = resource(
        "aws:ec2/internetGateway:InternetGateway",
        {"vpcId": "vpc-1"},
        name="igw",
        property_dependencies=on_vpc,
    )
    public_rt = resource(
        "aws:ec2/routeTable:RouteTable",
        {"vpcId": "vpc-1", "routes": [{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"}]},
        name="public-rt",
        property_dependencies={**on_vpc, "routes": [igw.urn]},
    )
    private_rt = resource(
        "aws:ec2/routeTable:RouteTable",
        {"vpcId": "vpc-1"},
        name="private-rt",
        property_dependencies=on_vpc,
    )
    data = resource(
        "aws:ec2/subnet:Subnet",
        {"cidrBlock": "10.0.108.0/22", "vpcId": "vpc-1"},
        name="data",
        property_dependencies=on_vpc,
    )
    private = resource(
        "aws:ec2/subnet:Subnet",
        {"cidrBlock": "10.0.0.0/20", "vpcId": "vpc-1"},
        name="private",
        property_dependencies=on_vpc,
    )

    def associate(subnet: PlannedResource, table: PlannedResource) -> PlannedResource:
        return resource(
            "aws:ec2/routeTableAssociation:RouteTableAssociation",
            {"subnetId": "s", "routeTableId": "r"},
            name=f"{subnet.name}-rta",
            property_dependencies={"subnetId": [subnet.urn], "routeTableId": [table.urn]},
        )

    data_table = public_rt if data_routes_to_igw else private_rt
    items = [
        vpc,
        igw,
        public_rt,
        private_rt,
        data,
        private,
        associate(data, data_table),
        associate(private, private_rt),
    ]
    return Net(vpc, igw, public_rt, private_rt, data, private, items)  # fmt: skip


def database(net: Net, ingress: list[dict[str, Any]] | Any) -> list[PlannedResource]:
    group = resource(
        "aws:ec2/securityGroup:SecurityGroup",
        {"vpcId": "vpc-1", "ingress": ingress},
        name="db-sg",
        property_dependencies={"vpcId": [net.vpc.urn]},
    )
    subnets = resource(
        "aws:rds/subnetGroup:SubnetGroup",
        {"subnetIds": ["s"]},
        name="db-subnets",
        property_dependencies={"subnetIds": [net.data.urn]},
    )
    db = resource(
        RDS,
        GOOD_RDS,
        name="db",
        protect=True,
        property_dependencies={
            "vpcSecurityGroupIds": [group.urn],
            "dbSubnetGroupName": [subnets.urn],
        },
    )
    return [group, subnets, db]  # fmt: skip


FROM_NODES = {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": ["sg-nodes"]}


@pytest.mark.parametrize(
    ("ingress", "ok"),
    [
        ([FROM_NODES], True),
        ([{**FROM_NODES, "securityGroups": [], "cidrBlocks": ["10.0.0.0/20"]}], True),
        ([{**FROM_NODES, "securityGroups": [], "cidrBlocks": ["10.1.0.0/16"]}], False),
        ([{**FROM_NODES, "securityGroups": [], "cidrBlocks": ["198.51.100.7/32"]}], False),
        ([{**FROM_NODES, "prefixListIds": ["pl-1"]}], False),
    ],
)
def test_data_security_groups_admit_only_groups_or_the_vpc(
    stub: Any, ingress: list[dict[str, Any]], ok: bool
) -> None:
    net = network()
    found = violations(stub, [*net.resources, *database(net, ingress)])
    assert ("data-sg-internal-only" not in found) is ok


def transit_network(routed: str, *, via_attachment: bool = True) -> Net:
    """``network()`` whose data subnet routes ``routed`` to a Transit Gateway attachment."""
    net = network()
    attachment = resource(
        "aws:ec2transitgateway/vpcAttachment:VpcAttachment",
        {"transitGatewayId": "tgw-1", "vpcId": "vpc-1", "subnetIds": ["s"]},
        name="tgw-vpc",
        property_dependencies={"vpcId": [net.vpc.urn], "subnetIds": [net.data.urn]},
    )
    data_rt = resource(
        "aws:ec2/routeTable:RouteTable",
        {"vpcId": "vpc-1", "routes": [{"cidrBlock": routed, "transitGatewayId": "tgw-1"}]},
        name="data-rt",
        property_dependencies={
            "vpcId": [net.vpc.urn],
            "routes": [attachment.urn] if via_attachment else [],
        },
    )
    association = resource(
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        {"subnetId": "s", "routeTableId": "r"},
        name="data-rta",
        property_dependencies={"subnetId": [net.data.urn], "routeTableId": [data_rt.urn]},
    )
    kept = [r for r in net.resources if r.name != "data-rta"]
    return net._replace(resources=[*kept, attachment, data_rt, association])


@pytest.mark.parametrize(
    ("routed", "admitted", "via_attachment", "ok"),
    [
        # Another region's clients, over the Transit Gateway the data subnet routes to.
        ("10.1.0.0/16", "10.1.0.0/19", True, True),
        # Admitted but not routed there: no private path, so no reason to admit it.
        ("10.1.0.0/16", "10.2.0.0/19", True, False),
        # A "route" whose target is not this stack's attachment proves nothing.
        ("10.1.0.0/16", "10.1.0.0/19", False, False),
        # A public range stays forbidden even when routed to the gateway.
        ("198.51.100.0/24", "198.51.100.0/24", True, False),
    ],
)
def test_data_security_groups_admit_other_regions_only_over_the_transit_gateway(
    stub: Any, routed: str, admitted: str, via_attachment: bool, ok: bool
) -> None:
    net = transit_network(routed, via_attachment=via_attachment)
    ingress = [FROM_NODES, {**FROM_NODES, "securityGroups": [], "cidrBlocks": [admitted]}]
    found = violations(stub, [*net.resources, *database(net, ingress)])
    assert ("data-sg-internal-only" not in found) is ok


def test_data_security_group_rule_resources_count(stub: Any) -> None:
    net = network()
    items = database(net, [])
    rule = resource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                    {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "0.0.0.0/0", "securityGroupId": "sg"},
                    name="open", property_dependencies={"securityGroupId": [items[0].urn]})  # fmt: skip
    assert "data-sg-internal-only" in mandatory(stub, [*net.resources, *items, rule])
    unknown = resource(rule.type, {**rule.inputs, "cidrIpv4": UNKNOWN}, name="open",
                       property_dependencies=rule.property_dependencies)  # fmt: skip
    assert "data-sg-internal-only" in undecided(stub, [*net.resources, *items, unknown])


def test_data_subnets_never_route_to_the_internet_gateway(stub: Any) -> None:
    private = network()
    assert "data-subnet-no-internet-route" not in violations(
        stub, [*private.resources, *database(private, [FROM_NODES])]
    )
    public = network(data_routes_to_igw=True)
    assert "data-subnet-no-internet-route" in mandatory(
        stub, [*public.resources, *database(public, [FROM_NODES])]
    )
    # A separate Route resource to the gateway counts as well.
    route = resource("aws:ec2/route:Route", {"routeTableId": "r", "destinationCidrBlock": "0.0.0.0/0", "gatewayId": UNKNOWN},
                     name="igw-route", property_dependencies={"routeTableId": [private.private_rt.urn], "gatewayId": [private.igw.urn]})  # fmt: skip
    assert "data-subnet-no-internet-route" in mandatory(
        stub, [*private.resources, *database(private, [FROM_NODES]), route]
    )


def node_group(
    net: Net, subnet: PlannedResource, template: PlannedResource | None
) -> PlannedResource:
    deps = {"subnetIds": [subnet.urn]}
    inputs: dict[str, Any] = {"subnetIds": ["s"], "launchTemplate": {"id": UNKNOWN, "version": "1"}}
    if template is not None:
        deps["launchTemplate"] = [template.urn]
    else:
        inputs["launchTemplate"] = {"id": "lt-foreign", "version": "1"}
    return resource("aws:eks/nodeGroup:NodeGroup", inputs, name="ng", property_dependencies=deps)


def test_node_groups_run_in_private_subnets_with_the_stacks_templates(stub: Any) -> None:
    net = network()
    template = resource(
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"metadataOptions": {"httpTokens": "required"}},
        name="lt",
    )
    public = resource("aws:ec2/subnet:Subnet", {"cidrBlock": "10.0.200.0/24"}, name="public")
    rta = resource("aws:ec2/routeTableAssociation:RouteTableAssociation", {"subnetId": "s", "routeTableId": "r"},
                   name="public-rta", property_dependencies={"subnetId": [public.urn], "routeTableId": [net.public_rt.urn]})  # fmt: skip
    base = [*net.resources, template, public, rta]
    assert "eks-nodegroup-private" not in violations(
        stub, [*base, node_group(net, net.private, template)]
    )
    assert "eks-nodegroup-private" in mandatory(stub, [*base, node_group(net, public, template)])
    assert "eks-nodegroup-private" in mandatory(stub, [*base, node_group(net, net.private, None)])


def ns(name: str) -> PlannedResource:
    return resource("kubernetes:core/v1:Namespace", {"metadata": meta(name)}, name=f"ns-{name}")


def netpol(namespace: str, name: str, spec: dict[str, Any]) -> PlannedResource:
    return resource(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        {"metadata": meta(name, namespace), "spec": spec},
        name=f"{namespace}-{name}",
    )


DENY = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def quota(namespace: str) -> PlannedResource:
    return resource(
        "kubernetes:core/v1:ResourceQuota",
        {"metadata": meta("quota", namespace)},
        name=f"{namespace}-quota",
    )


def test_namespaces_keep_default_deny_and_quota(stub: Any) -> None:
    good = [ns("tenant-acme"), netpol("tenant-acme", "default-deny", DENY), quota("tenant-acme")]
    found = violations(stub, good)
    assert "k8s-namespace-default-deny" not in found
    assert "k8s-namespace-quota" not in found
    assert {"k8s-namespace-default-deny", "k8s-namespace-quota"} <= mandatory(
        stub, [ns("tenant-acme")]
    )
    narrowed = netpol(
        "tenant-acme", "default-deny", {**DENY, "podSelector": {"matchLabels": {"app": "x"}}}
    )
    assert "k8s-namespace-default-deny" in mandatory(stub, [good[0], narrowed, good[2]])
    allow_all = netpol(
        "tenant-acme", "allow-all", {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}
    )
    assert "k8s-namespace-default-deny" in mandatory(stub, [*good, allow_all])
    pending = netpol("tenant-acme", "default-deny", UNKNOWN)
    assert "k8s-namespace-default-deny" in undecided(stub, [good[0], pending, good[2]])


def role(
    kind: str, name: str, rules: list[dict[str, Any]], namespace: str | None = None
) -> PlannedResource:
    return resource(
        f"kubernetes:rbac.authorization.k8s.io/v1:{kind}",
        {"metadata": meta(name, namespace), "rules": rules},
        name=name,
    )


def binding(kind: str, name: str, ref: str, subjects: list[dict[str, Any]], *, namespace: str | None = None,
            ref_kind: str = "ClusterRole") -> PlannedResource:  # fmt: skip
    return resource(
        f"kubernetes:rbac.authorization.k8s.io/v1:{kind}",
        {
            "metadata": meta(name, namespace),
            "roleRef": {"kind": ref_kind, "name": ref},
            "subjects": subjects,
        },
        name=name,
    )


WILDCARD = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
READ_APPS = [{"apiGroups": ["apps"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]
SRE_GROUP = {"kind": "Group", "name": "agent-factory:sre", "apiGroup": "rbac.authorization.k8s.io"}
DEV_GROUP = {
    "kind": "Group",
    "name": "agent-factory:developers",
    "apiGroup": "rbac.authorization.k8s.io",
}


def test_wildcard_roles_are_for_the_sre_group_only(stub: Any) -> None:
    sre = [
        role("ClusterRole", "sre", WILDCARD),
        binding("ClusterRoleBinding", "sre", "sre", [SRE_GROUP]),
    ]
    assert "k8s-wildcard-roles-admin-only" not in violations(stub, sre)
    devs = [
        role("ClusterRole", "dev", READ_APPS),
        binding("ClusterRoleBinding", "dev", "dev", [DEV_GROUP]),
    ]
    assert "k8s-wildcard-roles-admin-only" not in violations(stub, devs)
    widened = [sre[0], binding("ClusterRoleBinding", "sre", "sre", [SRE_GROUP, DEV_GROUP])]
    assert "k8s-wildcard-roles-admin-only" in mandatory(stub, widened)
    builtin = [binding("RoleBinding", "ops", "cluster-admin", [DEV_GROUP], namespace="tenant-acme")]
    assert "k8s-wildcard-roles-admin-only" in mandatory(stub, builtin)
    pending = [
        sre[0],
        binding("ClusterRoleBinding", "sre", "sre", [{"kind": "Group", "name": UNKNOWN}]),
    ]
    assert "k8s-wildcard-roles-admin-only" in undecided(stub, pending)


SECRETS = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]
TENANT_SA = {"kind": "ServiceAccount", "name": "agents", "namespace": "tenant-acme"}


def test_tenants_read_secrets_only_in_their_namespace(stub: Any) -> None:
    reader = role("ClusterRole", "secret-reader", SECRETS)
    own = binding("RoleBinding", "own", "secret-reader", [TENANT_SA], namespace="tenant-acme")
    assert "k8s-tenant-secrets-isolated" not in violations(stub, [reader, own])
    other = binding("RoleBinding", "other", "secret-reader", [TENANT_SA], namespace="tenant-globex")
    assert "k8s-tenant-secrets-isolated" in mandatory(stub, [reader, other])
    everywhere = binding("ClusterRoleBinding", "all", "edit", [TENANT_SA])
    assert "k8s-tenant-secrets-isolated" in mandatory(stub, [everywhere])


def bucket(name: str, **inputs: Any) -> PlannedResource:
    return resource("aws:s3/bucket:Bucket", {"bucket": name, **inputs}, name=name, protect=True)


def helper(type_: str, of: PlannedResource, suffix: str, inputs: dict[str, Any]) -> PlannedResource:
    return resource(
        type_,
        {"bucket": of.name, **inputs},
        name=f"{of.name}-{suffix}",
        property_dependencies={"bucket": [of.urn]},
    )


class Control(NamedTuple):
    rule: str
    type: str
    good: dict[str, Any]
    bad: dict[str, Any]
    own: str


@pytest.mark.parametrize(
    "control",
    [
        Control("s3-versioning", "aws:s3/bucketVersioning:BucketVersioning",
         {"versioningConfiguration": {"status": "Enabled"}}, {"versioningConfiguration": {"status": "Suspended"}},
         "versioningConfiguration"),
        Control("s3-public-access-blocked", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
         dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True),
         {**dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"), True), "restrictPublicBuckets": False},
         "blockPublicPolicy"),
        Control("s3-owner-enforced", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
         {"rule": {"objectOwnership": "BucketOwnerEnforced"}}, {"rule": {"objectOwnership": "ObjectWriter"}}, "rule"),
    ],
)  # fmt: skip
def test_every_bucket_has_its_controls(stub: Any, control: Control) -> None:
    b = bucket("artifacts")
    rule = control.rule
    assert rule not in violations(stub, [b, helper(control.type, b, "h", control.good)])
    assert rule in mandatory(stub, [b, helper(control.type, b, "h", control.bad)])
    assert rule in mandatory(stub, [b])  # none at all
    unknown = {**control.good, control.own: UNKNOWN}
    assert rule in undecided(stub, [b, helper(control.type, b, "h", unknown)])


LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


def audit_set(
    mode: str = "COMPLIANCE", days: Any = 2557, noncurrent: int = 2558
) -> list[PlannedResource]:
    b = bucket("prod-data-audit-logs", objectLockEnabled=True)
    return [
        b,
        helper(LOCK, b, "lock", {"rule": {"defaultRetention": {"mode": mode, "days": days}}}),
        helper(LIFECYCLE, b, "lifecycle", {"rules": [{"id": "old", "status": "Enabled",
                                                      "noncurrentVersionExpiration": {"noncurrentDays": noncurrent}}]}),
    ]  # fmt: skip


def test_audit_bucket_is_worm(stub: Any) -> None:
    assert "s3-audit-object-lock" not in violations(stub, audit_set())
    assert "s3-audit-object-lock" in mandatory(stub, audit_set(mode="GOVERNANCE"))
    assert "s3-audit-object-lock" in mandatory(stub, audit_set(days=30))
    assert "s3-audit-object-lock" in mandatory(stub, audit_set(noncurrent=90))
    assert "s3-audit-object-lock" in mandatory(stub, audit_set()[:1])
    assert "s3-audit-object-lock" in undecided(stub, audit_set(days=UNKNOWN))
    # The trail's bucket is an audit bucket whatever its name.
    logs = bucket("logs")
    trail = resource("aws:cloudtrail/trail:Trail", {"s3BucketName": "logs"}, name="trail",
                     property_dependencies={"s3BucketName": [logs.urn]})  # fmt: skip
    assert "s3-audit-object-lock" in mandatory(stub, [logs, trail])


def test_trail_and_detector_must_exist_unless_another_stack_has_them(stub: Any) -> None:
    here = {
        "cloudtrail-present": {"providedBy": ""},
        "guardduty-eks-protection": {"providedBy": ""},
    }
    found = mandatory(stub, [], config=here)
    assert {"cloudtrail-present", "guardduty-eks-protection"} <= found


def detector(audit: Any = "ENABLED", agent: str = "ENABLED") -> list[PlannedResource]:
    d = resource("aws:guardduty/detector:Detector", {"enable": True}, name="gd", protect=True)
    link = {"detectorId": [d.urn]}
    feature = "aws:guardduty/detectorFeature:DetectorFeature"
    return [
        d,
        resource(feature, {"detectorId": "d", "name": "EKS_AUDIT_LOGS", "status": audit}, name="audit", property_dependencies=link),
        resource(feature, {"detectorId": "d", "name": "RUNTIME_MONITORING", "status": "ENABLED",
                           "additionalConfigurations": [{"name": "EKS_ADDON_MANAGEMENT", "status": agent}]},
                 name="runtime", property_dependencies=link),
    ]  # fmt: skip


def test_guardduty_watches_the_cluster(stub: Any) -> None:
    assert "guardduty-eks-protection" not in violations(stub, detector())
    assert "guardduty-eks-protection" in mandatory(stub, detector(audit="DISABLED"))
    assert "guardduty-eks-protection" in mandatory(stub, detector(agent="DISABLED"))
    assert "guardduty-eks-protection" in mandatory(stub, detector()[:1])
    assert "guardduty-eks-protection" in undecided(stub, detector(audit=UNKNOWN))


def test_trail_and_detector_are_stateful(stub: Any) -> None:
    trail = resource("aws:cloudtrail/trail:Trail", {"isMultiRegionTrail": True}, name="trail")
    assert "stateful-protected" in mandatory(stub, [trail, *detector()])


STACK_RULES = {
    "iam-trust-policy", "data-sg-internal-only", "data-subnet-no-internet-route", "eks-nodegroup-private",
    "k8s-namespace-default-deny", "k8s-namespace-quota", "k8s-wildcard-roles-admin-only",
    "k8s-tenant-secrets-isolated", "s3-versioning", "s3-public-access-blocked", "s3-owner-enforced",
    "s3-audit-object-lock", "cloudtrail-present", "guardduty-eks-protection",
}  # fmt: skip
COVERED = {c.rule for c in CASES} | STACK_RULES

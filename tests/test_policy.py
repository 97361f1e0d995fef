"""Every rule, compliant and violating, sent through the real pack over gRPC."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tools.gate import POLICY_DIR, GateError, analyze_plan, load_policy_config, policy_server
from tools.synth import Plan, PlannedResource

sys.path.insert(0, str(POLICY_DIR))
from agentfactory_policies import ALL_RULES

PROVIDER_URN = "urn:pulumi:test::agent-factory::pulumi:providers:aws::aws"
TAGS = {
    "Project": "agent-factory",
    "Environment": "prod",
    "Team": "platform-sre",
    "CostCenter": "agent-factory",
    "ManagedBy": "pulumi",
    "Stack": "test",
}
K8S_LABELS = {
    "app.kubernetes.io/name": "api",
    "app.kubernetes.io/part-of": "agent-factory",
    "app.kubernetes.io/managed-by": "pulumi",
}


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    with policy_server() as analyzer:
        yield analyzer


def provider(default_tags: dict[str, str] | None = None) -> PlannedResource:
    inputs: dict[str, Any] = {"region": "us-east-1"}
    if default_tags is not None:
        inputs["defaultTags"] = json.dumps({"tags": default_tags})
    return PlannedResource(
        urn=PROVIDER_URN,
        type="pulumi:providers:aws",
        name="aws",
        parent="",
        provider="",
        custom=True,
        remote=False,
        protect=False,
        inputs=inputs,
        dependencies=[],
    )


def resource(
    type_: str,
    inputs: dict[str, Any],
    *,
    name: str = "subject",
    protect: bool = False,
    dependencies: list[str] | None = None,
    property_dependencies: dict[str, list[str]] | None = None,
) -> PlannedResource:
    urn = f"urn:pulumi:test::agent-factory::{type_}::{name}"
    return PlannedResource(
        urn=urn,
        type=type_,
        name=name,
        parent="",
        provider=f"{PROVIDER_URN}::id" if type_.startswith("aws:") else "",
        custom=True,
        remote=type_.startswith("eks:"),
        protect=protect,
        inputs=inputs,
        dependencies=dependencies or [],
        providers={"aws": f"{PROVIDER_URN}::id"} if type_.startswith("eks:") else {},
        property_dependencies=property_dependencies or {},
    )


def violations(
    stub: Any,
    resources: list[PlannedResource],
    config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = TAGS,
) -> dict[str, list[str]]:
    plan = Plan("test", "agent-factory", [provider(tags), *resources], {})
    found: dict[str, list[str]] = {}
    for violation in analyze_plan(stub, plan, config or {}).violations:
        found.setdefault(violation.rule, []).append(violation.message)
    return found


# -- pod templates ----------------------------------------------------------------------

GOOD_CONTAINER = {
    "name": "app",
    "image": "registry.example/agent-api:1.4.2",
    "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "256Mi"},
    },
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    },
}
GOOD_POD = {
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
    "containers": [GOOD_CONTAINER],
    "initContainers": [dict(GOOD_CONTAINER, name="init")],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}
WORKLOAD_PATHS = {
    "kubernetes:core/v1:Pod": lambda spec: {"spec": spec},
    "kubernetes:apps/v1:Deployment": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:StatefulSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:DaemonSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:ReplicaSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:Job": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:CronJob": lambda spec: {
        "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}
    },
}


def workload(type_: str, spec: dict[str, Any]) -> PlannedResource:
    body = WORKLOAD_PATHS[type_](spec)
    return resource(type_, {"metadata": {"name": "api", "labels": K8S_LABELS}, **body})


def with_container(field: str, **security: Any) -> dict[str, Any]:
    spec = json.loads(json.dumps(GOOD_POD))
    container = dict(GOOD_CONTAINER, name="bad")
    container["securityContext"] = {**GOOD_CONTAINER["securityContext"], **security}
    spec.setdefault(field, []).append(container)
    return spec


def test_compliant_pod_passes_every_rule_in_every_workload_kind(stub: Any) -> None:
    for type_ in WORKLOAD_PATHS:
        assert violations(stub, [workload(type_, GOOD_POD)]) == {}, type_


PSS_CASES: list[tuple[str, dict[str, Any]]] = [
    ("pss-run-as-non-root", {"runAsNonRoot": False}),
    ("pss-run-as-non-root", {"runAsUser": 0}),
    ("pss-no-privilege-escalation", {"allowPrivilegeEscalation": True}),
    ("pss-drop-all-capabilities", {"capabilities": {"drop": ["NET_RAW"]}}),
    ("pss-drop-all-capabilities", {"capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]}}),
    ("pss-seccomp-profile", {"seccompProfile": {"type": "Unconfined"}}),
    ("pss-not-privileged", {"privileged": True}),
    ("pss-kernel-and-lsm-limits", {"procMount": "Unmasked"}),
    ("pss-kernel-and-lsm-limits", {"seLinuxOptions": {"user": "system_u"}}),
    ("pss-kernel-and-lsm-limits", {"appArmorProfile": {"type": "Unconfined"}}),
]


@pytest.mark.parametrize("field", ["containers", "initContainers", "ephemeralContainers"])
@pytest.mark.parametrize(("rule", "security"), PSS_CASES)
def test_pss_container_violations(
    stub: Any, rule: str, security: dict[str, Any], field: str
) -> None:
    found = violations(
        stub, [workload("kubernetes:apps/v1:Deployment", with_container(field, **security))]
    )
    assert rule in found
    assert any("bad" in message for message in found[rule])


@pytest.mark.parametrize("type_", sorted(WORKLOAD_PATHS))
def test_pss_root_pod_is_caught_in_every_workload_kind(stub: Any, type_: str) -> None:
    spec = json.loads(json.dumps(GOOD_POD))
    spec["securityContext"]["runAsNonRoot"] = False
    assert "pss-run-as-non-root" in violations(stub, [workload(type_, spec)])


@pytest.mark.parametrize(
    ("rule", "change"),
    [
        ("pss-no-host-namespaces", {"hostNetwork": True}),
        ("pss-no-host-namespaces", {"hostPID": True}),
        ("pss-allowed-volume-types", {"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
        (
            "pss-kernel-and-lsm-limits",
            {
                "securityContext": {
                    **GOOD_POD["securityContext"],
                    "sysctls": [{"name": "kernel.msgmax", "value": "1"}],
                }
            },
        ),
        ("pss-seccomp-profile", {"securityContext": {"runAsNonRoot": True}}),
    ],
)
def test_pss_pod_level_violations(stub: Any, rule: str, change: dict[str, Any]) -> None:
    spec = {**json.loads(json.dumps(GOOD_POD)), **change}
    assert rule in violations(stub, [workload("kubernetes:core/v1:Pod", spec)])


def test_host_port_is_caught(stub: Any) -> None:
    spec = json.loads(json.dumps(GOOD_POD))
    spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80}]
    assert "pss-no-host-namespaces" in violations(
        stub, [workload("kubernetes:apps/v1:DaemonSet", spec)]
    )


def test_net_bind_service_is_the_one_allowed_capability(stub: Any) -> None:
    spec = with_container("containers", capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
    assert violations(stub, [workload("kubernetes:apps/v1:Deployment", spec)]) == {}


@pytest.mark.parametrize(
    ("rule", "mutate"),
    [
        ("image-pinned", lambda c: c.update(image="nginx:latest")),
        ("image-pinned", lambda c: c.update(image="nginx")),
        ("container-resources", lambda c: c.update(resources={"requests": {"cpu": "1"}})),
    ],
)
def test_container_hygiene(stub: Any, rule: str, mutate: Any) -> None:
    spec = json.loads(json.dumps(GOOD_POD))
    mutate(spec["containers"][0])
    assert rule in violations(stub, [workload("kubernetes:batch/v1:CronJob", spec)])


def test_digest_pinned_image_passes(stub: Any) -> None:
    spec = json.loads(json.dumps(GOOD_POD))
    spec["containers"][0]["image"] = "nginx@sha256:" + "a" * 64
    assert violations(stub, [workload("kubernetes:batch/v1:Job", spec)]) == {}


def namespace(name: str, labels: dict[str, str]) -> PlannedResource:
    return resource(
        "kubernetes:core/v1:Namespace",
        {"metadata": {"name": name, "labels": {**K8S_LABELS, **labels}}},
        name=name,
    )


def test_namespace_psa_label(stub: Any) -> None:
    restricted = namespace("greenlang-prod", {"pod-security.kubernetes.io/enforce": "restricted"})
    baseline = namespace("monitoring", {"pod-security.kubernetes.io/enforce": "privileged"})
    assert violations(stub, [restricted]) == {}
    assert "namespace-pss-restricted" in violations(stub, [baseline])
    exempt = {
        "namespace-pss-restricted": {
            "exemptions": {"monitoring": "node-exporter reads host metrics"}
        }
    }
    assert violations(stub, [baseline], exempt) == {}
    no_reason = {"namespace-pss-restricted": {"exemptions": {"monitoring": " "}}}
    assert "namespace-pss-restricted" in violations(stub, [baseline], no_reason)


# -- AWS resource rules ------------------------------------------------------------------

KMS = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
RESOURCE_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("rds-storage-encrypted", "aws:rds/instance:Instance",
     {"storageEncrypted": True, "kmsKeyId": KMS}, {"storageEncrypted": False}),
    ("elasticache-encrypted", "aws:elasticache/replicationGroup:ReplicationGroup",
     {"atRestEncryptionEnabled": True, "kmsKeyId": KMS, "transitEncryptionEnabled": True, "authToken": "[secret]"},
     {"atRestEncryptionEnabled": True, "kmsKeyId": KMS, "transitEncryptionEnabled": False}),
    # A Global Datastore member carries only its own region's key; the rest is inherited.
    ("elasticache-encrypted", "aws:elasticache/replicationGroup:ReplicationGroup",
     {"globalReplicationGroupId": "ldgnf-cache", "kmsKeyId": KMS}, {"globalReplicationGroupId": "ldgnf-cache"}),
    ("s3-replication-encrypted", "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
     {"rules": [{"id": "to-us-west-2", "sourceSelectionCriteria": {"sseKmsEncryptedObjects": {"status": "Enabled"}},
                 "destination": {"bucket": "arn:aws:s3:::copy", "encryptionConfiguration": {"replicaKmsKeyId": KMS}}}]},
     {"rules": [{"id": "to-us-west-2", "destination": {"bucket": "arn:aws:s3:::copy"}}]}),
    ("launch-template-ebs-encrypted", "aws:ec2/launchTemplate:LaunchTemplate",
     {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "kmsKeyId": KMS}}]},
     {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]}),
    ("ebs-volume-encrypted", "aws:ebs/volume:Volume", {"encrypted": True, "kmsKeyId": KMS}, {"encrypted": False}),
    ("eks-secrets-encrypted", "eks:index:Cluster", {"encryptionConfigKeyArn": KMS}, {}),
    ("eks-secrets-encrypted", "aws:eks/cluster:Cluster",
     {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": KMS}}}, {}),
    ("log-group-kms", "aws:cloudwatch/logGroup:LogGroup", {"kmsKeyId": KMS}, {}),
    ("secret-customer-key", "aws:secretsmanager/secret:Secret", {"kmsKeyId": KMS}, {}),
    ("msk-encrypted", "aws:msk/cluster:Cluster",
     {"encryptionInfo": {"encryptionAtRestKmsKeyArn": KMS, "encryptionInTransit": {"clientBroker": "TLS", "inCluster": True}}},
     {"encryptionInfo": {"encryptionInTransit": {"clientBroker": "TLS_PLAINTEXT"}}}),
    ("opensearch-encrypted", "aws:opensearch/domain:Domain",
     {"encryptAtRest": {"enabled": True}, "nodeToNodeEncryption": {"enabled": True},
      "domainEndpointOptions": {"enforceHttps": True, "tlsSecurityPolicy": "Policy-Min-TLS-1-2-2019-07"}},
     {"encryptAtRest": {"enabled": False}}),
    ("sns-encrypted", "aws:sns/topic:Topic", {"kmsMasterKeyId": KMS}, {}),
    ("sqs-encrypted", "aws:sqs/queue:Queue", {"kmsMasterKeyId": KMS}, {"sqsManagedSseEnabled": False}),
    ("kms-key-rotation", "aws:kms/key:Key", {"enableKeyRotation": True}, {"enableKeyRotation": False}),
    ("s3-public-access-block", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
     {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True},
     {"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True, "restrictPublicBuckets": True}),
    ("rds-not-public", "aws:rds/instance:Instance", {"publiclyAccessible": False}, {"publiclyAccessible": True}),
    ("sg-no-world-ingress", "aws:ec2/securityGroup:SecurityGroup",
     {"ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.0.0.0/16"]}]},
     {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("sg-no-world-ingress", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
     {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "10.0.0.0/16"},
     {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv6": "::/0"}),
    ("eks-endpoint-restricted", "eks:index:Cluster",
     {"endpointPublicAccess": True, "endpointPrivateAccess": True, "publicAccessCidrs": ["198.51.100.0/24"]},
     {"endpointPublicAccess": True, "endpointPrivateAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}),
    ("eks-endpoint-restricted", "aws:eks/cluster:Cluster",
     {"vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True}},
     {"vpcConfig": {"endpointPublicAccess": True, "endpointPrivateAccess": True}}),
    ("default-sg-empty", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
     {"ingress": [], "egress": []}, {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}),
    ("subnet-no-auto-public-ip", "aws:ec2/subnet:Subnet", {"mapPublicIpOnLaunch": False}, {"mapPublicIpOnLaunch": True}),
    ("rds-multi-az", "aws:rds/instance:Instance", {"multiAz": True}, {"multiAz": False}),
    ("rds-backup-retention", "aws:rds/instance:Instance", {"backupRetentionPeriod": 30}, {"backupRetentionPeriod": 1}),
    ("rds-deletion-protection", "aws:rds/cluster:Cluster", {"deletionProtection": True}, {}),
    ("elasticache-failover", "aws:elasticache/replicationGroup:ReplicationGroup",
     {"automaticFailoverEnabled": True, "multiAzEnabled": True, "snapshotRetentionLimit": 7},
     {"automaticFailoverEnabled": True, "multiAzEnabled": False, "snapshotRetentionLimit": 0}),
    ("eks-control-plane-logs", "eks:index:Cluster",
     {"enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"]},
     {"enabledClusterLogTypes": ["api"]}),
    ("imdsv2-required", "aws:ec2/launchTemplate:LaunchTemplate",
     {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}},
     {"metadataOptions": {"httpTokens": "optional"}}),
    ("imdsv2-required", "aws:ec2/instance:Instance",
     {"metadataOptions": {"httpTokens": "required"}}, {}),
    ("helm-chart-pinned", "kubernetes:helm.sh/v3:Release",
     {"chart": "cluster-autoscaler", "version": "9.54.0", "repositoryOpts": {"repo": "https://kubernetes.github.io/autoscaler"}},
     {"chart": "cluster-autoscaler", "version": "^9.0", "repositoryOpts": {"repo": "https://kubernetes.github.io/autoscaler"}}),
    ("helm-allowed-repository", "kubernetes:helm.sh/v3:Release",
     {"chart": "cert-manager", "version": "1.19.1", "repositoryOpts": {"repo": "https://charts.jetstack.io"}},
     {"chart": "cert-manager", "version": "1.19.1", "repositoryOpts": {"repo": "https://charts.example.invalid"}}),
    ("iam-no-admin-wildcards", "aws:iam/rolePolicy:RolePolicy",
     {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": ["ec2:DescribeImages"], "Resource": "*"}]})},
     {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}),
    ("eks-version-supported", "eks:index:Cluster", {"version": "1.35"}, {"version": "1.29"}),
    ("k8s-recommended-labels", "kubernetes:storage.k8s.io/v1:StorageClass",
     {"metadata": {"name": "gp3", "labels": K8S_LABELS}}, {"metadata": {"name": "gp3"}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "type_", "good", "bad"), RESOURCE_CASES, ids=[f"{c[0]}-{c[1]}" for c in RESOURCE_CASES]
)
def test_resource_rule(
    stub: Any, rule: str, type_: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    assert rule not in violations(stub, [resource(type_, good)])
    found = violations(stub, [resource(type_, bad)])
    assert rule in found, found


def test_load_balancer_group_may_open_443(stub: Any) -> None:
    ingress = [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]
    plain = resource("aws:ec2/securityGroup:SecurityGroup", {"ingress": ingress})
    load_balancer = resource(
        "aws:ec2/securityGroup:SecurityGroup",
        {"ingress": ingress, "tags": {"Role": "load-balancer"}},
        name="lb",
    )
    assert "sg-no-world-ingress" in violations(stub, [plain])
    assert "sg-no-world-ingress" not in violations(stub, [load_balancer])


def test_stateful_resources_must_be_protected(stub: Any) -> None:
    inputs = {"encryptionConfigKeyArn": KMS}
    assert "stateful-protected" in violations(stub, [resource("eks:index:Cluster", inputs)])
    assert "stateful-protected" not in violations(
        stub, [resource("eks:index:Cluster", inputs, protect=True)]
    )


# -- tags: provider defaults count --------------------------------------------------------


def test_tags_from_the_provider_only(stub: Any) -> None:
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"})
    assert "aws-mandatory-tags" not in violations(stub, [vpc], tags=TAGS)


def test_tags_from_the_resource_only(stub: Any) -> None:
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16", "tags": TAGS})
    assert "aws-mandatory-tags" not in violations(stub, [vpc], tags=None)


def test_tags_missing_is_a_violation_naming_the_keys(stub: Any) -> None:
    partial = {k: v for k, v in TAGS.items() if k != "CostCenter"}
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"})
    found = violations(stub, [vpc], tags=partial)
    assert "['CostCenter']" in found["aws-mandatory-tags"][0]


def test_tag_values_are_checked(stub: Any) -> None:
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"})
    found = violations(stub, [vpc], tags={**TAGS, "Environment": "qa"})
    assert "aws-mandatory-tags" in found


def test_untaggable_types_are_skipped(stub: Any) -> None:
    alias = resource("aws:kms/alias:Alias", {"name": "alias/x"})
    assert "aws-mandatory-tags" not in violations(stub, [alias], tags=None)


# -- stack rules --------------------------------------------------------------------------


def bucket_set(sse: str | None, tls: bool, flow: bool = True) -> list[PlannedResource]:
    bucket = resource(
        "aws:s3/bucket:Bucket", {"bucket": "artifacts"}, name="artifacts", protect=True
    )
    items = [bucket]
    if sse:
        rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": sse}}]
        items.append(
            resource(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                {"rules": rules},
                name="sse",
                dependencies=[bucket.urn],
            )
        )
    statement = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    policy = {"Statement": [statement]} if tls else {"Statement": []}
    items.append(
        resource(
            "aws:s3/bucketPolicy:BucketPolicy",
            {"policy": json.dumps(policy)},
            name="policy",
            dependencies=[bucket.urn],
        )
    )
    return items


def test_s3_bucket_rules(stub: Any) -> None:
    assert violations(stub, bucket_set("aws:kms", tls=True)) == {}
    found = violations(stub, bucket_set("AES256", tls=False))
    assert "s3-sse-kms" in found
    assert "s3-tls-only" in found


def test_sse_s3_is_accepted_only_on_an_access_log_target(stub: Any) -> None:
    items = bucket_set("AES256", tls=True)
    target = items[0]
    source = resource("aws:s3/bucket:Bucket", {"bucket": "source"}, name="src", protect=True)
    logging = resource(
        "aws:s3/bucketLogging:BucketLogging",
        {"bucket": "source", "targetBucket": "artifacts", "targetPrefix": "src/"},
        name="logging",
        dependencies=[source.urn, target.urn],
        property_dependencies={"bucket": [source.urn], "targetBucket": [target.urn]},
    )
    plan = Plan("test", "agent-factory", [provider(TAGS), *items, source, logging], {})
    flagged = {
        v.urn.rsplit("::", 1)[-1]
        for v in analyze_plan(stub, plan, {}).violations
        if v.rule == "s3-sse-kms"
    }
    # The log target is exempt; the source bucket, with no SSE configuration, is not.
    assert flagged == {"src"}
    assert "s3-sse-kms" in violations(stub, bucket_set("AES256", tls=True))


def test_rds_force_ssl(stub: Any) -> None:
    def instance_with(value: str) -> list[PlannedResource]:
        group = resource(
            "aws:rds/parameterGroup:ParameterGroup",
            {"parameters": [{"name": "rds.force_ssl", "value": value}]},
            name="pg",
        )
        db = resource(
            "aws:rds/instance:Instance",
            {
                "engine": "postgres",
                "storageEncrypted": True,
                "kmsKeyId": KMS,
                "multiAz": True,
                "backupRetentionPeriod": 30,
                "deletionProtection": True,
            },
            name="db",
            protect=True,
            dependencies=[group.urn],
            property_dependencies={"parameterGroupName": [group.urn]},
        )
        return [group, db]

    assert "rds-force-ssl" not in violations(stub, instance_with("1"))
    assert "rds-force-ssl" in violations(stub, instance_with("0"))


def test_vpc_flow_logs(stub: Any) -> None:
    vpc = resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.0.0.0/16"}, name="vpc")
    flow = resource(
        "aws:ec2/flowLog:FlowLog",
        {"trafficType": "ALL"},
        name="fl",
        dependencies=[vpc.urn],
        property_dependencies={"vpcId": [vpc.urn]},
    )
    assert "vpc-flow-logs" not in violations(stub, [vpc, flow])
    assert "vpc-flow-logs" in violations(stub, [vpc])


# -- pack-wide ----------------------------------------------------------------------------


def test_every_rule_is_exercised_here() -> None:
    covered = {c[0] for c in RESOURCE_CASES} | {c[0] for c in PSS_CASES} | {
        "pss-no-host-namespaces", "pss-allowed-volume-types", "image-pinned", "container-resources",
        "namespace-pss-restricted", "aws-mandatory-tags", "stateful-protected",
        "s3-sse-kms", "s3-tls-only", "rds-force-ssl", "vpc-flow-logs",
    }  # fmt: skip
    assert {r.name for r in ALL_RULES} == covered
    assert len(ALL_RULES) >= 40


def test_every_rule_has_metadata() -> None:
    for rule in ALL_RULES:
        assert rule.description and rule.remediation and rule.severity
        assert (rule.resource_check is None) != (rule.stack_check is None)


def test_enforcement_can_be_lowered_per_stack(stub: Any) -> None:
    bad = resource("aws:rds/instance:Instance", {"multiAz": False})
    plan = Plan("test", "agent-factory", [provider(TAGS), bad], {})
    (violation,) = [
        v
        for v in analyze_plan(stub, plan, {"rds-multi-az": "advisory"}).violations
        if v.rule == "rds-multi-az"
    ]
    assert violation.level == "advisory"
    assert violation.urn == bad.urn


def test_stack_policy_configs_are_valid() -> None:
    assert load_policy_config("dev")["stateful-protected"] == "advisory"
    assert load_policy_config("prod")["rds-backup-retention"]["minimumDays"] == 30
    assert load_policy_config("no-such-stack") == {}


def test_unknown_policy_in_config_is_an_error(stub: Any) -> None:
    with pytest.raises(GateError, match="unknown policies"):
        analyze_plan(
            stub, Plan("test", "agent-factory", [provider(TAGS)], {}), {"no-such-rule": "advisory"}
        )

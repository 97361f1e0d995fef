"""Every rule, compliant and violating, sent through the real pack over gRPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.policy_helpers import (
    K8S_LABELS,
    TAGS,
    provider,
    resource,
    violations,
)
from tools.gate import GateError, analyze_plan, load_policy_config, policy_server
from tools.synth import Plan, PlannedResource

from agentfactory_policies import ALL_RULES  # isort: skip  (policy/ is put on sys.path)


@pytest.fixture(scope="module")
def stub() -> Iterator[Any]:
    with policy_server() as analyzer:
        yield analyzer


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
    "kubernetes:core/v1:PodTemplate": lambda spec: {"template": {"spec": spec}},
    "kubernetes:core/v1:ReplicationController": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:Deployment": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:StatefulSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:DaemonSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:apps/v1:ReplicaSet": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:Job": lambda spec: {"spec": {"template": {"spec": spec}}},
    "kubernetes:batch/v1:CronJob": lambda spec: {
        "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}
    },
    "kubernetes:argoproj.io/v1alpha1:Rollout": lambda spec: {"spec": {"template": {"spec": spec}}},
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
    ("pss-read-only-root-filesystem", {"readOnlyRootFilesystem": False}),
]


@pytest.mark.parametrize("field", ["containers", "initContainers", "ephemeralContainers"])
@pytest.mark.parametrize(("rule", "security"), PSS_CASES)
def test_pss_container_violations(
    stub: Any, rule: str, security: dict[str, Any], field: str
) -> None:
    found = violations(
        stub, [workload("kubernetes:apps/v1:Deployment", with_container(field, **security))]
    )
    if rule == "pss-read-only-root-filesystem" and field == "ephemeralContainers":
        # Debug containers are attached by hand, never declared: the rule skips them.
        assert rule not in found
        return
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
    assert "namespace-pss-restricted" not in violations(stub, [restricted])
    assert "namespace-pss-restricted" in violations(stub, [baseline])
    exempt = {
        "namespace-pss-restricted": {
            "exemptions": {"monitoring": "node-exporter reads host metrics"}
        }
    }
    assert "namespace-pss-restricted" not in violations(stub, [baseline], exempt)
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


def test_load_balancer_group_may_open_443_only_by_policy_config(stub: Any) -> None:
    ingress = [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]
    # A tag on the group grants nothing: whoever writes the group could write the tag.
    tagged = resource(
        "aws:ec2/securityGroup:SecurityGroup",
        {"ingress": ingress, "tags": {"Role": "load-balancer"}},
        name="lb",
    )
    assert "sg-no-world-ingress" in violations(stub, [tagged])
    listed = {"sg-no-world-ingress": {"loadBalancerGroups": ["lb"]}}
    assert "sg-no-world-ingress" not in violations(stub, [tagged], listed)
    all_ports = [{"protocol": "-1", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]
    wide = resource("aws:ec2/securityGroup:SecurityGroup", {"ingress": all_ports}, name="lb")
    assert "sg-no-world-ingress" in violations(stub, [wide], listed)


def test_ingress_rule_protocol_minus_one_opens_every_port(stub: Any) -> None:
    """vpc.SecurityGroupIngressRule spells the protocol ipProtocol; -1 ignores the ports."""
    rule = resource(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {"ipProtocol": "-1", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"},
        name="lb",
    )
    listed = {"sg-no-world-ingress": {"loadBalancerGroups": ["lb"]}}
    found = violations(stub, [rule], listed)
    assert found["sg-no-world-ingress"] == [
        "ingress from the internet (0.0.0.0/0) on ports 0-65535"
    ]


def test_internet_split_into_halves_is_still_the_internet(stub: Any) -> None:
    halves = [
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/1"]},
        {"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["128.0.0.0/1"]},
    ]
    group = resource("aws:ec2/securityGroup:SecurityGroup", {"ingress": halves})
    assert len(violations(stub, [group])["sg-no-world-ingress"]) == 2
    vpn = [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["198.51.100.0/24"]}]
    group = resource("aws:ec2/securityGroup:SecurityGroup", {"ingress": vpn})
    assert "sg-no-world-ingress" not in violations(stub, [group])
    cluster = resource(
        "eks:index:Cluster",
        {
            "endpointPublicAccess": True,
            "endpointPrivateAccess": True,
            "publicAccessCidrs": ["0.0.0.0/1", "128.0.0.0/1"],
        },
    )
    assert "eks-endpoint-restricted" in violations(stub, [cluster])


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


SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::artifacts", "arn:aws:s3:::artifacts/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def bucket_set(
    sse: str | None, tls: bool, name: str = "artifacts", statement: dict[str, Any] | None = None
) -> list[PlannedResource]:
    """A bucket with the helpers it needs; each helper's ``bucket`` input comes from it."""
    bucket = resource("aws:s3/bucket:Bucket", {"bucket": name}, name=name, protect=True)
    link = {"bucket": [bucket.urn]}

    def helper(type_: str, suffix: str, inputs: dict[str, Any]) -> PlannedResource:
        return resource(
            type_, {"bucket": name, **inputs}, name=f"{name}-{suffix}", property_dependencies=link
        )

    items = [
        bucket,
        helper(
            "aws:s3/bucketVersioning:BucketVersioning",
            "versioning",
            {"versioningConfiguration": {"status": "Enabled"}},
        ),
        helper(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "pab",
            {
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
        ),
        helper(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "ownership",
            {"rule": {"objectOwnership": "BucketOwnerEnforced"}},
        ),
    ]
    if sse:
        rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": sse}}]
        items.append(helper(SSE, "sse", {"rules": rules}))
    deny = statement or json.loads(json.dumps(TLS_DENY).replace("artifacts", name))
    policy = {"Statement": [deny]} if tls else {"Statement": []}
    items.append(
        helper("aws:s3/bucketPolicy:BucketPolicy", "policy", {"policy": json.dumps(policy)})
    )
    return items


def test_s3_bucket_rules(stub: Any) -> None:
    assert violations(stub, bucket_set("aws:kms", tls=True)) == {}
    found = violations(stub, bucket_set("AES256", tls=False))
    assert "s3-sse-kms" in found
    assert "s3-tls-only" in found


def test_sse_s3_is_accepted_only_on_a_configured_access_log_target(stub: Any) -> None:
    logs = bucket_set("AES256", tls=True, name="x-access-logs")
    data = bucket_set("AES256", tls=True, name="artifacts")
    source = bucket_set("aws:kms", tls=True, name="source")

    def logging(target: PlannedResource) -> PlannedResource:
        return resource(
            "aws:s3/bucketLogging:BucketLogging",
            {"bucket": "source", "targetBucket": target.name, "targetPrefix": "src/"},
            name=f"logging-{target.name}",
            property_dependencies={"bucket": [source[0].urn], "targetBucket": [target.urn]},
        )

    plan = Plan(
        "test",
        "agent-factory",
        [provider(TAGS), *logs, *data, *source, logging(logs[0]), logging(data[0])],
        {},
    )
    flagged = {
        v.urn.rsplit("::", 1)[-1]
        for v in analyze_plan(stub, plan, {}).violations
        if v.rule == "s3-sse-kms"
    }
    # The configured log target is exempt; a data bucket that some BucketLogging targets
    # (a sibling anyone can add) is not.
    assert flagged == {"artifacts"}
    # Named like a log bucket but not a log target: no exemption either.
    assert "s3-sse-kms" in violations(stub, bucket_set("AES256", tls=True, name="y-access-logs"))


def test_sse_configuration_counts_only_for_the_bucket_it_configures(stub: Any) -> None:
    """A helper that merely depends on a bucket (dependsOn) lends it nothing."""
    items = bucket_set(None, tls=True)
    other = bucket_set("aws:kms", tls=True, name="other")
    stray = resource(
        SSE,
        {
            "bucket": "other",
            "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}],
        },
        name="stray",
        dependencies=[items[0].urn],
        property_dependencies={"bucket": [other[0].urn]},
    )
    found = violations(stub, [*items, *other, stray])
    assert found["s3-sse-kms"] == [
        "no BucketServerSideEncryptionConfiguration with aws:kms for this bucket"
    ]


@pytest.mark.parametrize(
    ("hole", "statement"),
    [
        ("one principal", {**TLS_DENY, "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}}),
        ("one action", {**TLS_DENY, "Action": "s3:GetObject"}),
        ("bucket only", {**TLS_DENY, "Resource": "arn:aws:s3:::artifacts"}),
        (
            "NotPrincipal",
            {
                **{k: v for k, v in TLS_DENY.items() if k != "Principal"},
                "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"},
            },
        ),
        ("allow", {**TLS_DENY, "Effect": "Allow"}),
    ],
)
def test_tls_only_deny_must_cover_every_principal_and_action(
    stub: Any, hole: str, statement: dict[str, Any]
) -> None:
    assert "s3-tls-only" in violations(
        stub, bucket_set("aws:kms", tls=True, statement=statement)
    ), hole


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


def test_every_rule_is_exercised_here_or_in_test_policy_rules() -> None:
    from tests.test_delivery import RULE_NAME as DELIVERY_RULE
    from tests.test_policy_rules import COVERED as NEW_AREAS
    from tests.test_policy_workloads import RULES as WORKLOAD_RULES

    covered = {c[0] for c in RESOURCE_CASES} | {c[0] for c in PSS_CASES} | {
        "pss-no-host-namespaces", "pss-allowed-volume-types", "image-pinned", "container-resources",
        "namespace-pss-restricted", "aws-mandatory-tags", "stateful-protected",
        "s3-sse-kms", "s3-tls-only", "rds-force-ssl", "vpc-flow-logs",
    }  # fmt: skip
    assert {r.name for r in ALL_RULES} == covered | NEW_AREAS | set(WORKLOAD_RULES) | {
        DELIVERY_RULE
    }
    assert len(ALL_RULES) >= 90


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

"""Cluster and its add-ons under mocks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from components.cluster.cluster import CONTROL_PLANE_LOG_TYPES
from components.footprint import FOOTPRINTS_OUTPUT
from tests.conftest import by_name
from tools.synth import Plan, PlannedResource

EKS = "eks:index:Cluster"


def cluster(plan: Plan) -> PlannedResource:
    (resource,) = plan.by_type(EKS)
    return resource


def test_prod_cluster_shape(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    inputs = cluster(plan).inputs
    assert inputs["name"] == "agent-factory-prod"
    assert inputs["version"] == "1.35"
    assert inputs["authenticationMode"] == "API"
    assert inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert len(inputs["enabledClusterLogTypes"]) == 5
    assert inputs["endpointPrivateAccess"] is True
    assert inputs["endpointPublicAccess"] is True
    assert inputs["publicAccessCidrs"] == ["198.51.100.0/24", "203.0.113.0/28"]
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert inputs["skipDefaultNodeGroup"] is True
    assert inputs["createOidcProvider"] is True
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["vpcCniOptions"]["enableNetworkPolicy"] is True
    assert inputs["kubeProxyAddonOptions"]["enabled"] is True
    assert inputs["deletionProtection"] is True
    assert cluster(plan).protect is True


def test_secrets_encrypted_with_the_rotating_secrets_key(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    keys = by_name(plan, "aws:kms/key:Key")
    secrets_key = keys["prod-keys-eks-secrets"]
    assert secrets_key.inputs["enableKeyRotation"] is True
    aliases = {a.inputs["name"] for a in plan.by_type("aws:kms/alias:Alias")}
    assert "alias/agent-factory-prod/eks-secrets" in aliases
    # The cluster encrypts with the secrets key, not the logs or EBS key.
    assert cluster(plan).inputs["encryptionConfigKeyArn"] == plan.states[secrets_key.urn]["arn"]


def test_access_entries_map_sre_to_admin_and_developers_to_view(
    plan_of: Callable[[str], Plan],
) -> None:
    entries = cluster(plan_of("prod")).inputs["accessEntries"]
    admin = entries["sre-admin-0"]
    assert admin["principalArn"] == "arn:aws:iam::123456789012:role/AgentFactorySRE"
    (policy,) = admin["accessPolicies"].values()
    assert policy["policyArn"].endswith("/AmazonEKSClusterAdminPolicy")
    assert policy["accessScope"] == {"type": "cluster"}
    (view,) = entries["developer-0"]["accessPolicies"].values()
    assert view["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"


def test_dev_is_not_deletion_protected(plan_of: Callable[[str], Plan]) -> None:
    resource = cluster(plan_of("dev"))
    assert resource.inputs["deletionProtection"] is False
    assert resource.protect is False


def test_control_plane_log_group_is_owned_encrypted_and_bounded(
    plan_of: Callable[[str], Plan],
) -> None:
    plan = plan_of("prod")
    groups = {g.inputs["name"]: g for g in plan.by_type("aws:cloudwatch/logGroup:LogGroup")}
    group = groups["/aws/eks/agent-factory-prod/cluster"]
    assert group.inputs["kmsKeyId"].startswith("arn:aws:kms:")
    assert group.inputs["retentionInDays"] == 365
    assert group.urn in cluster(plan).dependencies


def test_cluster_uses_the_stack_aws_provider(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (provider,) = plan.by_type("pulumi:providers:aws")
    assert cluster(plan).providers["aws"].startswith(provider.urn)


def test_kubernetes_provider_built_from_kubeconfig(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (provider,) = plan.by_type("pulumi:providers:kubernetes")
    kubeconfig = json.loads(provider.inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["name"] == "agent-factory-prod"
    assert provider.inputs["enableServerSideApply"] == "true"
    release = plan.by_type("kubernetes:helm.sh/v3:Release")[0]
    storage_class = plan.by_type("kubernetes:storage.k8s.io/v1:StorageClass")[0]
    assert release.provider.startswith(provider.urn)
    assert storage_class.provider.startswith(provider.urn)


@pytest.mark.parametrize(("stack", "reclaim"), [("prod", "Retain"), ("dev", "Delete")])
def test_default_storage_class_is_encrypted_gp3(
    plan_of: Callable[[str], Plan], stack: str, reclaim: str
) -> None:
    (storage_class,) = plan_of(stack).by_type("kubernetes:storage.k8s.io/v1:StorageClass")
    inputs = storage_class.inputs
    assert inputs["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    assert inputs["provisioner"] == "ebs.csi.aws.com"
    assert inputs["parameters"]["type"] == "gp3"
    assert inputs["parameters"]["encrypted"] == "true"
    assert inputs["parameters"]["kmsKeyId"].startswith("arn:aws:kms:")
    assert inputs["volumeBindingMode"] == "WaitForFirstConsumer"
    assert inputs["reclaimPolicy"] == reclaim


def test_addons_coredns_and_ebs_csi_with_irsa(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    addons = {a.inputs["addonName"]: a for a in plan.by_type("aws:eks/addon:Addon")}
    # snapshot-controller: the VolumeSnapshot CRDs and controller Velero's CSI backups use.
    assert set(addons) == {"coredns", "aws-ebs-csi-driver", "snapshot-controller"}
    coredns = json.loads(addons["coredns"].inputs["configurationValues"])
    assert coredns["replicaCount"] == 3
    assert coredns["tolerations"] == [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
    roles = by_name(plan, "aws:iam/role:Role")
    trust = json.loads(roles["prod-addons-ebs-csi-role"].inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    subjects = [v for k, v in condition.items() if k.endswith(":sub")]
    assert subjects == ["system:serviceaccount:kube-system:ebs-csi-controller-sa"]
    role_arn = plan.states[roles["prod-addons-ebs-csi-role"].urn]["arn"]
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"] == role_arn


# -- metrics-server ------------------------------------------------------------------------

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(("stack", "replicas"), [("prod", 2), ("staging", 2), ("dev", 1)])
def test_metrics_server_runs_pinned_on_the_system_pool(
    plan_of: Callable[[str], Plan], stack: str, replicas: int
) -> None:
    plan = plan_of(stack)
    release = by_name(plan, RELEASE)[f"{stack}-addons-metrics-server"]
    inputs = release.inputs
    # kubernetes-sigs/metrics-server charts/metrics-server/CHANGELOG.md: [3.13.1] 2026-02-27.
    assert (inputs["chart"], inputs["version"]) == ("metrics-server", "3.13.1")
    assert inputs["repositoryOpts"]["repo"] == "https://kubernetes-sigs.github.io/metrics-server/"
    assert inputs["namespace"] == "kube-system"
    values = inputs["values"]
    assert values["replicas"] == replicas
    assert values["podDisruptionBudget"]["enabled"] is (replicas > 1)
    # Placed like the other add-ons: the system pool's label, tolerating its taint.
    system = next(
        g.inputs for g in plan.by_type("aws:eks/nodeGroup:NodeGroup") if "-nodes-system-" in g.name
    )
    for key, value in values["nodeSelector"].items():
        assert system["labels"][key] == value
    (taint,) = system["taints"]
    assert {"key": taint["key"], "operator": "Exists"} in values["tolerations"]
    # Restricted: non-root, no escalation, no capabilities, RuntimeDefault seccomp.
    container = values["securityContext"]
    assert container["runAsNonRoot"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert set(values["resources"]) == {"requests", "limits"}
    # After the nodes: CoreDNS is ACTIVE only once the system pool runs pods.
    addons = {a.inputs["addonName"]: a for a in plan.by_type("aws:eks/addon:Addon")}
    assert addons["coredns"].urn in release.dependencies


def test_metrics_server_declares_its_footprint(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (addons,) = plan.by_type("agentfactory:platform:ClusterAddons")
    addon = by_name(plan, "agentfactory:platform:HelmAddon")["prod-addons-metrics-server"]
    # The release's HelmAddon registers it; ClusterAddons no longer does.
    assert addon.parent == addons.urn and FOOTPRINTS_OUTPUT not in addons.outputs
    (footprint,) = addon.outputs[FOOTPRINTS_OUTPUT]
    release = by_name(plan, RELEASE)["prod-addons-metrics-server"]
    assert release.parent == addon.urn
    values = release.inputs["values"]
    assert (footprint["release"], footprint["namespace"]) == ("metrics-server", "kube-system")
    (workload,) = footprint["workloads"]
    assert (workload["kind"], workload["replicas"]) == ("Deployment", values["replicas"])
    assert workload["containers"] == [values["resources"]]
    assert footprint["services"] == [{"name": "metrics-server", "type": "ClusterIP", "ports": 1}]

"""ClusterAddons: managed add-ons that need running nodes, the default StorageClass, volume
snapshots and metrics-server.

Volume snapshots: the EBS CSI driver's controller carries the csi-snapshotter sidecar, but
the ``snapshot.storage.k8s.io`` CRDs and the snapshot controller come from the EKS add-on
``snapshot-controller``; the VolumeSnapshotClass of ``ebs.csi.aws.com`` carries the label
Velero picks its class by (its CSI backups of PersistentVolumes need all three).

EKS reports CoreDNS and the EBS CSI driver DEGRADED (and Pulumi waits for them) until their
pods are scheduled, so they are created after the node groups, not with the cluster.
metrics-server (:mod:`components.addons.metrics_server`) serves the resource metrics API
from the system pool.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addons import metrics_server
from components.addons.charts import pinned
from components.addons.registry import HelmAddon, HelmAddonArgs
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.context import ClusterContext
from components.iam import IrsaRole, policy_document

EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
DEFAULT_STORAGE_CLASS = "gp3-encrypted"
EBS_SNAPSHOT_CLASS = "ebs-csi-snapshots"
EBS_CSI_DRIVER = "ebs.csi.aws.com"
# The EKS add-on that installs the snapshot CRDs (the preview's order check knows it).
SNAPSHOT_CONTROLLER = "snapshot-controller"


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster: ClusterContext
    ebs_key_arn: pulumi.Input[str]
    coredns_replicas: int
    retain_volumes: bool
    metrics_server_replicas: int
    # The stack's chart overrides (``agent-factory:charts``).
    charts: Mapping[str, str]


def ebs_kms_policy(key_arn: str) -> str:
    """Lets the CSI driver create volumes encrypted with the platform's EBS key."""
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": key_arn,
            },
        ]
    )


class VolumeSnapshotClass(pulumi.CustomResource):
    """A ``snapshot.storage.k8s.io/v1`` VolumeSnapshotClass. Its fields sit at the top level
    (no ``spec``), which the SDK's ``apiextensions.CustomResource`` cannot express; the
    Kubernetes provider takes any ``kubernetes:<group>/<version>:<Kind>`` object as is."""

    def __init__(
        self,
        name: str,
        *,
        metadata: Mapping[str, Any],
        driver: str,
        deletion_policy: str,
        opts: pulumi.ResourceOptions,
    ) -> None:
        super().__init__(
            "kubernetes:snapshot.storage.k8s.io/v1:VolumeSnapshotClass",
            name,
            {
                "apiVersion": "snapshot.storage.k8s.io/v1",
                "kind": "VolumeSnapshotClass",
                "metadata": dict(metadata),
                "driver": driver,
                "deletionPolicy": deletion_policy,
            },
            opts,
        )


def snapshot_class_labels() -> dict[str, str]:
    return {
        "app.kubernetes.io/name": EBS_SNAPSHOT_CLASS,
        "app.kubernetes.io/part-of": "agent-factory",
        "app.kubernetes.io/managed-by": "pulumi",
        # Velero takes the class of a volume's driver that carries this label.
        "velero.io/csi-volumesnapshot-class": "true",
    }


class ClusterAddons(pulumi.ComponentResource):
    ebs_csi_role_arn: pulumi.Output[str]
    default_storage_class: pulumi.Output[str]
    # The VolumeSnapshotClass of the EBS driver: CSI backups wait for it.
    snapshot_class: VolumeSnapshotClass

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster = args.cluster

        coredns = aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=cluster.name,
            addon_name="coredns",
            # Take over the Deployment if anything installed one before us.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            configuration_values=json.dumps(
                {"replicaCount": args.coredns_replicas, **SYSTEM_PLACEMENT}
            ),
            opts=child,
        )

        # The EKS add-on takes the role's ARN, not a service account annotation.
        irsa = IrsaRole(
            f"{name}-ebs-csi",
            cluster.oidc,
            "kube-system",
            EBS_CSI_SERVICE_ACCOUNT,
            parent=self,
            described=False,
        )
        role = irsa.role
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-managed",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:",
                cluster.account.partition,
                ":iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            ),
            opts=child,
        )
        kms_policy = aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            role=role.id,
            policy=pulumi.Output.from_input(args.ebs_key_arn).apply(ebs_kms_policy),
            opts=child,
        )
        ebs_csi = aws.eks.Addon(
            f"{name}-ebs-csi",
            cluster_name=cluster.name,
            addon_name="aws-ebs-csi-driver",
            service_account_role_arn=role.arn,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            configuration_values=json.dumps({"controller": SYSTEM_PLACEMENT}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[kms_policy]),
        )

        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-{DEFAULT_STORAGE_CLASS}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DEFAULT_STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                labels={
                    "app.kubernetes.io/name": DEFAULT_STORAGE_CLASS,
                    "app.kubernetes.io/part-of": "agent-factory",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
            ),
            provisioner=EBS_CSI_DRIVER,
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": args.ebs_key_arn,
                "fsType": "ext4",
            },
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            reclaim_policy="Retain" if args.retain_volumes else "Delete",
            opts=pulumi.ResourceOptions(
                parent=self, provider=cluster.k8s_provider, depends_on=[ebs_csi]
            ),
        )

        snapshots = aws.eks.Addon(
            f"{name}-{SNAPSHOT_CONTROLLER}",
            cluster_name=cluster.name,
            addon_name=SNAPSHOT_CONTROLLER,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            # Scheduled like CoreDNS: ACTIVE only once its pods run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[coredns]),
        )
        self.snapshot_class = VolumeSnapshotClass(
            f"{name}-{EBS_SNAPSHOT_CLASS}",
            metadata={"name": EBS_SNAPSHOT_CLASS, "labels": snapshot_class_labels()},
            driver=EBS_CSI_DRIVER,
            # The EBS snapshot outlives its VolumeSnapshot object; Velero deletes it when
            # the backup that took it expires.
            deletion_policy="Retain",
            opts=pulumi.ResourceOptions(
                parent=self, provider=cluster.k8s_provider, depends_on=[snapshots, ebs_csi]
            ),
        )

        replicas = args.metrics_server_replicas
        HelmAddon(
            f"{name}-metrics-server",
            HelmAddonArgs(
                chart=pinned(metrics_server.NAME, args.charts),
                release_name=metrics_server.NAME,
                namespace=metrics_server.NAMESPACE,
                values=metrics_server.values(replicas),
                footprint=metrics_server.footprint(replicas),
                cluster=cluster,
                # CoreDNS is ACTIVE only once the system pool runs pods: the nodes are there.
                depends_on=[coredns],
                moved_from=self,
            ),
            opts=child,
        )

        self.ebs_csi_role_arn = role.arn
        self.default_storage_class = storage_class.metadata.name
        self.register_outputs(
            {
                "ebsCsiRoleArn": self.ebs_csi_role_arn,
                "defaultStorageClass": self.default_storage_class,
            }
        )

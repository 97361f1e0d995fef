"""ClusterAddons: managed add-ons that need running nodes, the default StorageClass and
metrics-server.

EKS reports CoreDNS and the EBS CSI driver DEGRADED (and Pulumi waits for them) until their
pods are scheduled, so they are created after the node groups, not with the cluster.
metrics-server serves the resource metrics API (``kubectl top``, CPU/memory HPAs) from the
system pool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.context import AccountContext
from components.footprint import ReleaseFootprint, Resources, Service, Workload, footprints_output
from components.iam import irsa_trust_policy, policy_document
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, rolling_surge

EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"
DEFAULT_STORAGE_CLASS = "gp3-encrypted"
# The system pool: its label, and a toleration of its CriticalAddonsOnly taint.
SYSTEM_PLACEMENT = {
    "nodeSelector": {"workload-type": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
}
METRICS_SERVER_REPO = "https://kubernetes-sigs.github.io/metrics-server/"
# The chart's request (upstream sizing: enough for about 100 nodes) with headroom to the
# pools' maximum of about 185 nodes in the limit.
METRICS_SERVER = Resources("100m", "200Mi", "1", "512Mi")


@dataclass(frozen=True)
class ClusterAddonsArgs:
    account: AccountContext
    cluster_name: pulumi.Input[str]
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    ebs_key_arn: pulumi.Input[str]
    k8s_provider: k8s.Provider
    coredns_replicas: int
    retain_volumes: bool
    metrics_server_chart_version: str
    metrics_server_replicas: int


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


class ClusterAddons(pulumi.ComponentResource):
    ebs_csi_role_arn: pulumi.Output[str]
    default_storage_class: pulumi.Output[str]

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:ClusterAddons", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        coredns = aws.eks.Addon(
            f"{name}-coredns",
            cluster_name=args.cluster_name,
            addon_name="coredns",
            # Take over the Deployment if anything installed one before us.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            configuration_values=json.dumps(
                {"replicaCount": args.coredns_replicas, **SYSTEM_PLACEMENT}
            ),
            opts=child,
        )

        role = aws.iam.Role(
            f"{name}-ebs-csi-role",
            assume_role_policy=pulumi.Output.all(
                args.oidc_provider_arn, args.oidc_provider_url
            ).apply(
                lambda v: irsa_trust_policy(v[0], v[1], "kube-system", EBS_CSI_SERVICE_ACCOUNT)
            ),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-managed",
            role=role.name,
            policy_arn=pulumi.Output.concat(
                "arn:",
                args.account.partition,
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
            cluster_name=args.cluster_name,
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
            provisioner="ebs.csi.aws.com",
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
                parent=self, provider=args.k8s_provider, depends_on=[ebs_csi]
            ),
        )

        footprint = self._metrics_server(name, args, coredns)

        self.ebs_csi_role_arn = role.arn
        self.default_storage_class = storage_class.metadata.name
        self.register_outputs(
            {
                "ebsCsiRoleArn": self.ebs_csi_role_arn,
                "defaultStorageClass": self.default_storage_class,
                **footprints_output([footprint]),
            }
        )

    def _metrics_server(
        self, name: str, args: ClusterAddonsArgs, coredns: aws.eks.Addon
    ) -> ReleaseFootprint:
        replicas = args.metrics_server_replicas
        k8s.helm.v3.Release(
            f"{name}-metrics-server",
            name="metrics-server",
            chart="metrics-server",
            version=args.metrics_server_chart_version,
            namespace="kube-system",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=METRICS_SERVER_REPO),
            atomic=True,
            values={
                "replicas": replicas,
                # One pod may go during a node drain; the API stays served by the other.
                "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {
                            "matchLabels": {"app.kubernetes.io/name": "metrics-server"}
                        },
                    }
                ],
                "priorityClassName": "system-cluster-critical",
                "podSecurityContext": POD_SECURITY,
                "securityContext": {**CONTAINER_SECURITY, "runAsUser": 1000},
                "resources": METRICS_SERVER.values(),
                **SYSTEM_PLACEMENT,
                "apiService": {"create": True},
            },
            # CoreDNS is ACTIVE only once the system pool runs pods: the nodes are there.
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider, depends_on=[coredns]
            ),
        )
        return ReleaseFootprint(
            release="metrics-server",
            namespace="kube-system",
            workloads=(
                Workload(
                    "metrics-server",
                    "Deployment",
                    (METRICS_SERVER,),
                    replicas=replicas,
                    surge=rolling_surge(replicas),
                ),
            ),
            services=(Service("metrics-server", "ClusterIP"),),
        )

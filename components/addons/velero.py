"""Velero: Kubernetes state backups every 6 hours (seed Sprint 9) into the stack's
KMS-encrypted backups bucket, under its own prefix, with CSI snapshots of the persistent
volumes.

The vmware-tanzu chart ``velero`` 11.3.2 (app 1.17); the AWS object-store plugin
``velero/velero-plugin-for-aws`` v1.13.2 is its init container (the pair Big Bang's
packaging of 11.3.2 ships). Keys checked against vmware-tanzu/helm-charts
``charts/velero``: ``templates/deployment.yaml`` (``podSecurityContext``,
``containerSecurityContext``, ``resources``, ``initContainers``, ``nodeSelector``,
``tolerations``, ``configuration.features`` -> ``--features``, the ``tmpdir`` emptyDir a
read-only root filesystem gets, pod label ``name: velero``, container port
``http-monitoring`` 8085 when ``metrics.enabled``), ``templates/service.yaml`` (the
metrics Service, port ``http-monitoring``), ``templates/upgrade-crds/upgrade-crds.yaml``
(the pre-install/pre-upgrade Job: pod ``podSecurityContext``, init container
``containerSecurityContext`` and ``upgradeJobResources``, kubectl container
``kubectl.containerSecurityContext`` and ``kubectl.resources``), and the 11.x values
layout (``configuration.backupStorageLocation`` and ``volumeSnapshotLocation`` are lists,
``credentials.useSecret``, ``serviceAccount.server``, ``deployNodeAgent``,
``snapshotsEnabled``, ``schedules.<name>.{schedule,template}``).

Choices:

- Credentials: IRSA on the server's ServiceAccount, no secret (``credentials.useSecret``
  false). The role may list only the ``velero/`` prefix of the backups bucket, read and
  write objects only under it, and use the S3 key only through S3.
- Volumes: CSI snapshots (``EnableCSI``; built into Velero since 1.14), taken by the EBS
  CSI driver through the snapshot controller and the VolumeSnapshotClass ClusterAddons
  installs. Velero itself never calls EC2, so its role has no EC2 actions and no
  VolumeSnapshotLocation is created (``snapshotsEnabled`` false: that is the AWS plugin's
  own EBS snapshotter).
- No node-agent (file-system backup, ``deployNodeAgent`` false): it is a DaemonSet that
  mounts the kubelet's pod directory from the host (hostPath ``/var/lib/kubelet/pods``)
  and runs as root, which Pod Security ``restricted`` rejects; every PersistentVolume here
  is an EBS volume the CSI driver can snapshot, so it would add host access for nothing.
  The namespace therefore enforces ``restricted`` like the others, with no exemption.
- Images run as 65534 with a numeric UID: the Velero image names a non-numeric user, which
  the kubelet cannot check against ``runAsNonRoot``.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.addons.keda import quota_for
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY, Quota

CHART = "velero"
NAME = "velero"
NAMESPACE = "velero"
# serviceAccount.server.name: named here so the IRSA trust and the chart agree.
SERVICE_ACCOUNT = "velero-server"
SERVICE_ACCOUNT_VALUES = ("serviceAccount", "server")
# The one BackupStorageLocation and the one Schedule (tools/restore.py and the runbooks
# use these names). The chart names a Schedule "<fullname>-<key of schedules>"
# (templates/schedule.yaml); the fullname of release velero of chart velero is "velero".
STORAGE_LOCATION = "default"
SCHEDULE_KEY = "platform-6h"
SCHEDULE = f"{NAME}-{SCHEDULE_KEY}"
# Where in the backups bucket Velero writes (backups/, restores/, kopia/ below it); the
# bucket's other prefixes stay out of the role's reach.
PREFIX = "velero"
PLUGIN_IMAGE = "velero/velero-plugin-for-aws:v1.13.2"
# Seed Sprint 9: every 6 hours.
DEFAULT_CRON = "0 */6 * * *"
METRICS_PORT = 8085
METRICS_PORT_NAME = "http-monitoring"
# What the backup alerts read: velero_backup_failure_total,
# velero_backup_last_successful_timestamp (both labelled with the schedule).
METRIC_PREFIXES = ("velero_",)
# Pod labels of the server (templates/deployment.yaml).
SERVER_LABELS = {"name": "velero", "app.kubernetes.io/name": "velero"}
# The label Velero looks for to pick the VolumeSnapshotClass of a CSI driver.
CSI_CLASS_LABEL = "velero.io/csi-volumesnapshot-class"
SERVER = Resources("200m", "256Mi", "1", "512Mi")
PLUGIN = Resources("50m", "64Mi", "200m", "128Mi")
KUBECTL = Resources("50m", "64Mi", "200m", "128Mi")
MAX_CONTAINER = ("1", "1Gi")
# Velero's server is a single-replica controller (the chart renders replicas: 1).
REPLICAS = 1
# 65534 (nobody): numeric, so runAsNonRoot can be checked; fsGroup lets it read the
# projected IRSA token.
RUN_AS = {"runAsUser": 65534, "runAsGroup": 65534, "fsGroup": 65534}


def ttl(retention_days: int) -> str:
    """A backup's time to live, as Velero's metav1.Duration (hours)."""
    return f"{retention_days * 24}h0m0s"


def policy(region: str, dns_suffix: str, bucket_arn: str, key_arn: str) -> list[dict[str, Any]]:
    """The BackupStorageLocation's needs: the ``velero/`` prefix of the backups bucket and
    the bucket's KMS key through S3; nothing else (no EC2: volumes are CSI snapshots)."""
    return [
        {
            "Sid": "ListVeleroPrefix",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{PREFIX}/*"]}},
        },
        {
            "Sid": "VeleroObjects",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": f"{bucket_arn}/{PREFIX}/*",
        },
        {
            "Sid": "BackupsKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.{dns_suffix}"}},
        },
    ]


def values(
    *,
    bucket: pulumi.Input[str],
    region: str,
    kms_key_arn: pulumi.Input[str],
    cron: str,
    retention_days: int,
) -> dict[str, Any]:
    container = dict(CONTAINER_SECURITY)
    return {
        "podSecurityContext": {**POD_SECURITY, **RUN_AS},
        "containerSecurityContext": container,
        "resources": SERVER.values(),
        "initContainers": [
            {
                "name": "velero-plugin-for-aws",
                "image": PLUGIN_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
                "resources": PLUGIN.values(),
                "securityContext": container,
            }
        ],
        "upgradeJobResources": KUBECTL.values(),
        "kubectl": {"containerSecurityContext": container, "resources": KUBECTL.values()},
        "credentials": {"useSecret": False},
        "serviceAccount": {"server": {"create": True, "name": SERVICE_ACCOUNT}},
        "deployNodeAgent": False,
        "backupsEnabled": True,
        "snapshotsEnabled": False,
        "configuration": {
            "features": "EnableCSI",
            "backupStorageLocation": [
                {
                    "name": STORAGE_LOCATION,
                    "provider": "aws",
                    "bucket": bucket,
                    "prefix": PREFIX,
                    "default": True,
                    "accessMode": "ReadWrite",
                    # The AWS plugin writes every object with SSE-KMS under this key.
                    "config": {"region": region, "kmsKeyId": kms_key_arn},
                }
            ],
            "volumeSnapshotLocation": [],
        },
        # The scrape port and Service; the PodMonitor is created after the monitoring
        # CRDs exist (the chart's own monitor would need them at install time).
        "metrics": {
            "enabled": True,
            "serviceMonitor": {"enabled": False},
            "podMonitor": {"enabled": False},
            "prometheusRule": {"enabled": False},
        },
        "schedules": {
            SCHEDULE_KEY: {
                "disabled": False,
                "schedule": cron,
                # Backups outlive the Schedule object if it is ever deleted.
                "useOwnerReferencesInBackup": False,
                "template": {
                    "ttl": ttl(retention_days),
                    "storageLocation": STORAGE_LOCATION,
                    "includedNamespaces": ["*"],
                    "snapshotVolumes": True,
                },
            }
        },
        **SYSTEM_PLACEMENT,
    }


def pod_monitor_spec() -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchNames": [NAMESPACE]},
        "selector": {"matchLabels": dict(SERVER_LABELS)},
        "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "interval": "30s"}],
    }


def footprint(*, via: str) -> ReleaseFootprint:
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=(
            Workload.deployment("velero", SERVER, PLUGIN, replicas=REPLICAS),
            # The CRD upgrade hook runs while the old server still runs.
            Workload("upgrade-crds", "Job", (KUBECTL, KUBECTL)),
        ),
        services=(Service("velero", "ClusterIP"),),
        crds=("velero.io",),
        metrics=(Metrics(METRIC_PREFIXES, via=via),),
    )


def quota() -> Quota:
    return quota_for(footprint(via=""), MAX_CONTAINER)

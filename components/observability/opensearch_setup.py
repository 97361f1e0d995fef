"""The log domain's retention and access, applied on every ``pulumi up`` by a Kubernetes Job.

The domain (``aws.opensearch.Domain`` with fine-grained access control, IAM only) has no
index lifecycle and admits only the log shipper. Neither can be set through the AWS API:
both live inside OpenSearch (ISM and the security plugin). So this component runs
``opensearch_setup_job.py`` as a Job that signs its requests with the IRSA role
``opensearch-admin``, the domain's master user, and applies:

- an ISM policy: indexes ``logs-*`` stay hot (UltraWarm is not configured, so there is no
  warm tier unless ``warm=True``) and are deleted at ``retention_days``; its
  ``ism_template`` attaches it to every new index;
- roles and role mappings: Fluent Bit's role to a writer role that may only create and
  bulk-index ``logs-*``; the SRE roles to a reader role on ``logs-*`` plus the built-in
  ``kibana_user`` (Dashboards saved objects), not ``all_access`` (see ``role_mappings``);
  the admin role to ``all_access`` and ``security_manager``.

Wiring: create the role with :func:`opensearch_admin_role` *before* the domain (it becomes
the domain's ``master_user_arn`` and a principal of its access policy), then this
component with the domain's endpoint and ARN. The Job's name carries a hash of the script,
its configuration and the image, so a changed policy replaces the Job and runs it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.iam import IrsaRole, OidcProvider, policy_document

SCRIPT = Path(__file__).resolve().with_name("opensearch_setup_job.py")
# Debian's python3 with the standard library is all the script needs (no botocore: it
# signs SigV4 itself). Docker's official image through the ECR Public mirror (no Docker
# Hub pull limits), pinned to a patch release.
IMAGE = "public.ecr.aws/docker/library/python:3.12.10-slim-bookworm"
SERVICE_ACCOUNT = "opensearch-admin"
NAMESPACE = "logging"
INDEX_PATTERN = "logs-*"  # Fluent Bit's Logstash_Prefix logs -> logs-YYYY.MM.DD
ISM_POLICY_ID = "agentfactory-logs-retention"
WRITER_ROLE = "agentfactory_logs_writer"
READER_ROLE = "agentfactory_logs_reader"
DASHBOARDS_ROLE = "kibana_user"
# What the script sends: it never deletes through the REST API (ISM deletes indexes).
ADMIN_HTTP_ACTIONS = ("es:ESHttpGet", "es:ESHttpPut", "es:ESHttpPost")
NOBODY = 65534  # the image's default user is root; PSS restricted wants a numeric non-root
MOUNT = "/opt/setup"


def ism_policy(
    retention_days: int, hot_days: int = 7, warm: bool = False, pattern: str = INDEX_PATTERN
) -> dict[str, Any]:
    """Hot, optionally warm (UltraWarm) after ``hot_days``, deleted at ``retention_days``."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    if warm and retention_days <= hot_days:
        raise ValueError(
            f"with a warm tier retention_days ({retention_days}) must exceed hot_days ({hot_days})"
        )
    delete = {"state_name": "delete", "conditions": {"min_index_age": f"{retention_days}d"}}
    states: list[dict[str, Any]] = []
    if warm:
        states.append(
            {
                "name": "hot",
                "actions": [],
                "transitions": [
                    {"state_name": "warm", "conditions": {"min_index_age": f"{hot_days}d"}}
                ],
            }
        )
        states.append(
            {"name": "warm", "actions": [{"warm_migration": {}}], "transitions": [delete]}
        )
    else:
        states.append({"name": "hot", "actions": [], "transitions": [delete]})
    states.append({"name": "delete", "actions": [{"delete": {}}], "transitions": []})
    tiers = f"hot {hot_days}d, warm" if warm else "hot"
    return {
        "description": f"{pattern}: {tiers}, deleted at {retention_days}d (agent-factory)",
        "default_state": "hot",
        "states": states,
        "ism_template": {"index_patterns": [pattern], "priority": 100},
    }


def writer_role(pattern: str = INDEX_PATTERN) -> dict[str, Any]:
    """Fluent Bit: create daily indexes and bulk-index into them; no read, no delete.

    ``_bulk`` is authorised as a cluster action, each item as an index action.
    """
    return {
        "description": "Fluent Bit: create and bulk-index log indexes only",
        "cluster_permissions": ["indices:data/write/bulk"],
        "index_permissions": [
            {
                "index_patterns": [pattern],
                "allowed_actions": [
                    "indices:admin/create",
                    "indices:admin/mapping/put",
                    "indices:data/write/index*",
                    "indices:data/write/bulk*",
                ],
            }
        ],
    }


def reader_role(pattern: str = INDEX_PATTERN) -> dict[str, Any]:
    """SREs: search the logs, see cluster health and each index's ISM state."""
    return {
        "description": "SRE: read log indexes, monitor the cluster, explain ISM",
        "cluster_permissions": [
            "cluster_composite_ops_ro",
            "cluster_monitor",
            "cluster:admin/opendistro/ism/managedindex/explain",
            "cluster:admin/opendistro/ism/policy/get",
        ],
        "index_permissions": [
            {
                "index_patterns": [pattern],
                "allowed_actions": ["read", "indices_monitor", "indices:admin/mappings/get"],
            }
        ],
    }


def role_mappings(
    admin_role_arn: str, fluent_bit_role_arn: str, sre_role_arns: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Backend roles (IAM role ARNs) per security role.

    SREs get read plus Dashboards, not ``all_access``: they read logs and build dashboards;
    retention and permissions change through this Job in review. In an emergency the
    ``opensearch-admin`` service account is the break-glass path (an audited kubectl run).
    """
    sres = sorted(set(sre_role_arns))
    return {
        WRITER_ROLE: {"backend_roles": [fluent_bit_role_arn]},
        READER_ROLE: {"backend_roles": sres},
        DASHBOARDS_ROLE: {"backend_roles": sres},
        # The master user; the service keeps its own entries in users, so keep them.
        "all_access": {"backend_roles": [admin_role_arn], "keep_users": True},
        "security_manager": {"backend_roles": [admin_role_arn], "keep_users": True},
    }


def setup_config(
    endpoint: str,
    region: str,
    *,
    admin_role_arn: str,
    fluent_bit_role_arn: str,
    sre_role_arns: Sequence[str],
    retention_days: int,
    hot_days: int = 7,
    warm: bool = False,
) -> dict[str, Any]:
    """What the Job applies: the script's whole input, as ``config.json``."""
    return {
        "endpoint": endpoint,
        "region": region,
        "index_pattern": INDEX_PATTERN,
        "ism_policy_id": ISM_POLICY_ID,
        "ism_policy": ism_policy(retention_days, hot_days, warm),
        "roles": {WRITER_ROLE: writer_role(), READER_ROLE: reader_role()},
        "role_mappings": role_mappings(admin_role_arn, fluent_bit_role_arn, sre_role_arns),
    }


def job_name(script: str, config_json: str, image: str = IMAGE) -> str:
    """A name that changes with anything the run depends on, so a change re-runs it."""
    digest = hashlib.sha256("\0".join((script, config_json, image)).encode()).hexdigest()
    return f"opensearch-setup-{digest[:10]}"


def admin_http_statements(domain_arn: str) -> list[dict[str, Any]]:
    return [{"Effect": "Allow", "Action": list(ADMIN_HTTP_ACTIONS), "Resource": f"{domain_arn}/*"}]


def opensearch_admin_role(
    name: str, oidc: OidcProvider, *, parent: pulumi.Resource, namespace: str = NAMESPACE
) -> IrsaRole:
    """The IRSA role only ``<namespace>/opensearch-admin`` may assume; the domain's master.

    Created before the domain (which names it), so its HTTP permissions on the domain are
    attached by :class:`OpenSearchSetup`, which knows the domain's ARN.
    """
    return IrsaRole(name, oidc, namespace, SERVICE_ACCOUNT, parent=parent)


@dataclass(frozen=True)
class OpenSearchSetupArgs:
    domain_endpoint: pulumi.Input[str]
    domain_arn: pulumi.Input[str]
    region: str
    # From opensearch_admin_role(); also the domain's master_user_arn.
    admin_role: IrsaRole
    fluent_bit_role_arn: pulumi.Input[str]
    sre_role_arns: Sequence[pulumi.Input[str]]
    retention_days: int
    k8s_provider: k8s.Provider
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str = NAMESPACE
    # The Namespace object (and whatever else must exist first): objects wait for it.
    namespace_depends_on: Sequence[pulumi.Resource] = ()
    hot_days: int = 7
    warm: bool = False  # UltraWarm is not configured on the domain


class OpenSearchSetup(pulumi.ComponentResource):
    job_name: pulumi.Output[str]
    admin_role_arn: pulumi.Output[str]
    policy_id: str

    def __init__(
        self, name: str, args: OpenSearchSetupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:OpenSearchSetup", name, None, opts)
        # Fail in preview, not in the Job, on a retention the policy cannot express.
        ism_policy(args.retention_days, args.hot_days, args.warm)
        script = SCRIPT.read_text(encoding="utf-8")
        labels = {
            **args.labels,
            "app.kubernetes.io/name": "opensearch-setup",
            "app.kubernetes.io/component": "log-retention",
        }
        in_namespace = pulumi.ResourceOptions(
            parent=self, provider=args.k8s_provider, depends_on=list(args.namespace_depends_on)
        )

        http = aws.iam.RolePolicy(
            f"{name}-admin-http",
            role=args.admin_role.role.id,
            policy=pulumi.Output.from_input(args.domain_arn).apply(
                lambda arn: policy_document(admin_http_statements(arn))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SERVICE_ACCOUNT,
                namespace=args.namespace,
                labels=labels,
                annotations=args.admin_role.annotations,
            ),
            # The EKS pod identity webhook mounts the web identity token itself; the
            # script never calls the Kubernetes API.
            automount_service_account_token=False,
            opts=in_namespace,
        )
        config_json = pulumi.Output.all(
            args.domain_endpoint,
            args.admin_role.arn,
            args.fluent_bit_role_arn,
            pulumi.Output.all(*args.sre_role_arns),
        ).apply(
            lambda v: json.dumps(
                setup_config(
                    v[0],
                    args.region,
                    admin_role_arn=v[1],
                    fluent_bit_role_arn=v[2],
                    sre_role_arns=v[3],
                    retention_days=args.retention_days,
                    hot_days=args.hot_days,
                    warm=args.warm,
                ),
                indent=2,
                sort_keys=True,
            )
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="opensearch-setup", namespace=args.namespace, labels=labels
            ),
            data={SCRIPT.name: script, "config.json": config_json},
            opts=in_namespace,
        )
        self.job_name = config_json.apply(lambda text: job_name(script, text))
        restricted = k8s.core.v1.SecurityContextArgs(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
        )
        k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.job_name,
                namespace=args.namespace,
                labels=labels,
                # A Job that failed is run again by the next `pulumi up`, not waited on.
                annotations={"pulumi.com/replaceUnready": "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                # The script retries transient answers itself; a pod retry covers the rest
                # (a node lost mid-run). Then `pulumi up` fails, which is the point.
                backoff_limit=2,
                # Below the provider's wait (custom_timeouts), so the Job's own verdict wins.
                active_deadline_seconds=600,
                # Kept a day for its log; a refresh after that shows it gone and the next
                # up runs it again, which is harmless: every step is idempotent.
                ttl_seconds_after_finished=86400,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        # No API token: IRSA's web identity token is a separate volume the
                        # webhook adds, and the script never calls the Kubernetes API.
                        automount_service_account_token=False,
                        restart_policy="Never",
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=NOBODY,
                            run_as_group=NOBODY,
                            # The projected token must be readable by that user.
                            fs_group=NOBODY,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="setup",
                                image=IMAGE,
                                command=[
                                    "python3",
                                    f"{MOUNT}/{SCRIPT.name}",
                                    f"{MOUNT}/config.json",
                                ],
                                env=[
                                    k8s.core.v1.EnvVarArgs(
                                        name="PYTHONDONTWRITEBYTECODE", value="1"
                                    ),
                                    k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),
                                ],
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "50m", "memory": "64Mi"},
                                    limits={"cpu": "250m", "memory": "128Mi"},
                                ),
                                security_context=restricted,
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(
                                        name="setup", mount_path=MOUNT, read_only=True
                                    ),
                                    k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                                ],
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="setup",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=config.metadata.name
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="tmp",
                                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="16Mi"),
                            ),
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.k8s_provider,
                # The role must be allowed on the domain before the Job signs with it.
                depends_on=[*args.namespace_depends_on, http],
                # The name changes with the content: the old Job goes first.
                delete_before_replace=True,
                # pulumi-kubernetes waits for the Job to complete, 10 minutes by default.
                custom_timeouts=pulumi.CustomTimeouts(create="15m", update="15m"),
            ),
        )
        self.admin_role_arn = args.admin_role.arn
        self.policy_id = ISM_POLICY_ID
        self.register_outputs(
            {
                "jobName": self.job_name,
                "adminRoleArn": self.admin_role_arn,
                "ismPolicyId": self.policy_id,
            }
        )

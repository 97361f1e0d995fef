"""Observability: metrics, alerts with runbooks, dashboards, logs, traces and AWS alarms.

Everything is code or data in this repository: alert rules come from
:mod:`components.alerts`, dashboards from ``dashboards/*.json`` (loaded by Grafana's
sidecar through labelled ConfigMaps), runbooks from ``docs/runbooks/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.alerts import PEER_PROBE_JOB, SloTargets, alert_groups
from components.iam import OidcProvider, irsa_role, policy_document
from components.keys import AccountContext
from components.network import nodes_only_security_group
from components.security import CONTAINER_SECURITY, POD_SECURITY
from components.settings import Settings

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
PROMETHEUS_REPO = "https://prometheus-community.github.io/helm-charts"
FLUENT_REPO = "https://fluent.github.io/helm-charts"
OTEL_REPO = "https://open-telemetry.github.io/opentelemetry-helm-charts"
GRAFANA_REPO = "https://grafana.github.io/helm-charts"
# Keys in Secrets Manager that on-call tooling owns; values are set out of band.
ALERTING_SECRET = "alerting/integrations"
GRAFANA_OIDC_SECRET = "grafana/oidc"
KEYS_MOUNT = "/etc/alertmanager/secrets/alertmanager-integrations"


@dataclass(frozen=True)
class ObservabilityArgs:
    account: AccountContext
    settings: Settings
    k8s_provider: k8s.Provider
    oidc_provider_arn: pulumi.Input[str]
    oidc_provider_url: pulumi.Input[str]
    storage_class: pulumi.Input[str]
    data_subnet_ids: pulumi.Input[list[str]]
    vpc_id: pulumi.Input[str]
    node_security_group_id: pulumi.Input[str]
    data_key_arn: pulumi.Input[str]
    logs_key_arn: pulumi.Input[str]
    s3_key_arn: pulumi.Input[str]
    secrets_key_arn: pulumi.Input[str]
    traces_bucket: pulumi.Input[str]
    traces_bucket_arn: pulumi.Input[str]
    postgres_identifiers: list[str]
    # A secondary region's main instance is a cross-region replica: its lag is the RPO.
    postgres_primary_is_replica: bool
    cache_node_ids: list[str]
    protect: bool
    # Multi-region: the other regions' health URLs, probed from here (None: no probing).
    peer_health_urls: pulumi.Input[list[str]] | None = None


def dashboard_files() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def alertmanager_config() -> dict[str, Any]:
    """Critical pages PagerDuty, warnings go to Slack; keys are files from a Secret."""
    return {
        "route": {
            "receiver": "slack-warnings",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                # Re-page every 15 minutes until acknowledged; PagerDuty's escalation policy
                # moves an unacknowledged page to the secondary after 5 and the lead after 15.
                {
                    "receiver": "pagerduty-critical",
                    "matchers": ['severity="critical"'],
                    "group_wait": "10s",
                    "repeat_interval": "15m",
                    "continue": True,
                },
                {"receiver": "slack-warnings", "matchers": ['severity=~"critical|warning"']},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": ["alertname", "namespace"],
            }
        ],
        "receivers": [
            {
                "name": "pagerduty-critical",
                "pagerduty_configs": [
                    {
                        "routing_key_file": f"{KEYS_MOUNT}/pagerduty-routing-key",
                        "send_resolved": True,
                    }
                ],
            },
            {
                "name": "slack-warnings",
                "slack_configs": [
                    {
                        "api_url_file": f"{KEYS_MOUNT}/slack-webhook-url",
                        "channel": "#platform-alerts",
                        "send_resolved": True,
                        "title": "{{ .CommonAnnotations.summary }}",
                        "text": (
                            "{{ .CommonAnnotations.description }} "
                            "{{ .CommonAnnotations.runbook_url }}"
                        ),
                    }
                ],
            },
        ],
    }


@dataclass(frozen=True)
class AlarmSpec:
    key: str
    metric: str
    operator: str
    threshold: float
    statistic: str = "Average"


RDS_ALARMS = (
    AlarmSpec("cpu", "CPUUtilization", "GreaterThanThreshold", 80),
    AlarmSpec("storage", "FreeStorageSpace", "LessThanThreshold", 20 * 1024**3),
    AlarmSpec("connections", "DatabaseConnections", "GreaterThanThreshold", 450),
    # Last: only replicas report lag.
    AlarmSpec("lag", "ReplicaLag", "GreaterThanThreshold", 60),
)
CACHE_ALARMS = (
    AlarmSpec("memory", "DatabaseMemoryUsagePercentage", "GreaterThanThreshold", 80),
    AlarmSpec("evictions", "Evictions", "GreaterThanThreshold", 1000, "Sum"),
    AlarmSpec("cpu", "EngineCPUUtilization", "GreaterThanThreshold", 80),
)


def tempo_sampling(percent: float) -> dict[str, Any]:
    return {"probabilistic_sampler": {"sampling_percentage": percent}}


class Observability(pulumi.ComponentResource):
    alarm_topic_arn: pulumi.Output[str]
    opensearch_endpoint: pulumi.Output[str]
    grafana_admin_secret: str

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Observability", name, None, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self._labels = {
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
            "agent-factory.io/environment": settings.environment,
        }
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.k8s_provider)
        stack = self._prometheus_stack()
        self._alert_rules(stack)
        if args.peer_health_urls is not None:
            self._peer_probes(stack, args.peer_health_urls)
        self._dashboards()
        self.opensearch_endpoint = self._logs()
        self._traces()
        self.alarm_topic_arn = self._aws_alarms()
        self.register_outputs(
            {"alarmTopicArn": self.alarm_topic_arn, "opensearchEndpoint": self.opensearch_endpoint}
        )

    def _meta(self, name: str, namespace: str, **labels: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels={**self._labels, "app.kubernetes.io/name": name, **labels},
        )

    def _irsa(
        self, key: str, namespace: str, account: str, statements: Any | None = None
    ) -> aws.iam.Role:
        oidc = OidcProvider(self._args.oidc_provider_arn, self._args.oidc_provider_url)
        return irsa_role(
            f"{self._name}-{key}", oidc, namespace, account, parent=self, statements=statements
        )

    def _synced_secret(
        self, name: str, path: str, properties: tuple[str, ...]
    ) -> k8s.apiextensions.CustomResource:
        """A Secrets Manager entry (no value in code) mirrored into ``monitoring/<name>``."""
        args = self._args
        secret = aws.secretsmanager.Secret(
            f"{self._name}-{name}",
            name=f"{args.settings.cluster_name}/{path}",
            description=f"JSON with keys {', '.join(properties)}; values set out of band",
            kms_key_id=args.secrets_key_arn,
            recovery_window_in_days=30 if args.protect else 7,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{name}-sync",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=self._meta(name, "monitoring"),
            spec={
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"},
                "target": {"name": name},
                "data": [
                    {"secretKey": key, "remoteRef": {"key": secret.name, "property": key}}
                    for key in properties
                ],
            },
            opts=self._k8s,
        )

    # -- metrics ---------------------------------------------------------------------

    def _prometheus_stack(self) -> k8s.helm.v3.Release:
        args, obs = self._args, self._args.settings.observability
        password = random.RandomPassword(
            f"{self._name}-grafana-admin",
            length=32,
            special=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.grafana_admin_secret = "grafana-admin"
        admin = k8s.core.v1.Secret(
            f"{self._name}-grafana-admin-secret",
            metadata=self._meta(self.grafana_admin_secret, "monitoring"),
            string_data={"admin-user": "admin", "admin-password": password.result},
            opts=self._k8s,
        )
        # Integration keys and the OIDC client secret live in Secrets Manager (values set
        # out of band); External Secrets copies them into the namespace as files.
        keys = self._synced_secret(
            "alertmanager-integrations",
            ALERTING_SECRET,
            ("pagerduty-routing-key", "slack-webhook-url"),
        )
        oidc = self._synced_secret("grafana-oidc", GRAFANA_OIDC_SECRET, ("client-secret",))
        storage = {
            "volumeClaimTemplate": {
                "spec": {
                    "storageClassName": args.storage_class,
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{obs.prometheus_storage_gib}Gi"}},
                }
            }
        }
        grafana_ini = {
            "server": {"root_url": f"https://grafana.{args.settings.security.domain}"},
            "auth": {"disable_login_form": True},
            "auth.generic_oauth": {
                "enabled": True,
                "name": "SSO",
                "client_id": obs.grafana_oidc_client_id,
                "client_secret": "$__file{/etc/secrets/grafana-oidc/client-secret}",
                "scopes": "openid profile email groups",
                "auth_url": f"{obs.grafana_oidc_issuer}/oauth2/v1/authorize",
                "token_url": f"{obs.grafana_oidc_issuer}/oauth2/v1/token",
                "api_url": f"{obs.grafana_oidc_issuer}/oauth2/v1/userinfo",
                "role_attribute_path": (
                    "contains(groups[*], 'agent-factory-sre') && 'Admin' || 'Viewer'"
                ),
                "allow_sign_up": True,
            },
        }
        replicas = 2 if args.settings.environment != "dev" else 1
        return k8s.helm.v3.Release(
            f"{self._name}-kube-prometheus-stack",
            name="kube-prometheus-stack",
            chart="kube-prometheus-stack",
            version=obs.kube_prometheus_stack_chart_version,
            namespace="monitoring",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=PROMETHEUS_REPO),
            atomic=True,
            values={
                "prometheus": {
                    "prometheusSpec": {
                        "retention": f"{obs.prometheus_retention_days}d",
                        "replicas": replicas,
                        "storageSpec": storage,
                        # Rules and monitors from every namespace, not only the chart's own.
                        "ruleSelectorNilUsesHelmValues": False,
                        "serviceMonitorSelectorNilUsesHelmValues": False,
                        "podMonitorSelectorNilUsesHelmValues": False,
                        "probeSelectorNilUsesHelmValues": False,
                        "securityContext": {**POD_SECURITY, "runAsUser": 1000, "fsGroup": 2000},
                        "resources": {
                            "requests": {"cpu": "1", "memory": "8Gi"},
                            "limits": {"cpu": "4", "memory": "16Gi"},
                        },
                    }
                },
                "alertmanager": {
                    "config": alertmanager_config(),
                    "alertmanagerSpec": {
                        "replicas": replicas + 1 if replicas > 1 else 1,
                        "secrets": ["alertmanager-integrations"],
                        "securityContext": {**POD_SECURITY, "runAsUser": 1000, "fsGroup": 2000},
                    },
                },
                "grafana": {
                    "admin": {
                        "existingSecret": self.grafana_admin_secret,
                        "userKey": "admin-user",
                        "passwordKey": "admin-password",
                    },
                    "grafana.ini": grafana_ini,
                    "extraSecretMounts": [
                        {
                            "name": "grafana-oidc",
                            "secretName": "grafana-oidc",
                            "mountPath": "/etc/secrets/grafana-oidc",
                            "readOnly": True,
                        }
                    ],
                    "sidecar": {
                        "dashboards": {
                            "enabled": True,
                            "label": "grafana_dashboard",
                            "labelValue": "1",
                            "searchNamespace": "monitoring",
                        }
                    },
                    "persistence": {"enabled": False},
                    "securityContext": {**POD_SECURITY, "runAsUser": 472, "fsGroup": 472},
                    "containerSecurityContext": CONTAINER_SECURITY,
                },
                "prometheus-node-exporter": {"hostNetwork": True},
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider, depends_on=[admin, keys, oidc]
            ),
        )

    def _alert_rules(self, stack: k8s.helm.v3.Release) -> None:
        slo = self._args.settings.observability.slo
        targets = SloTargets(
            slo.availability, slo.latency_seconds, slo.latency_objective, slo.error_rate
        )
        peers = self._args.peer_health_urls is not None
        for group, alerts in alert_groups(targets, peer_regions=peers).items():
            k8s.apiextensions.CustomResource(
                f"{self._name}-rules-{group.rsplit('.', 1)[-1]}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._meta(group.replace(".", "-"), "monitoring"),
                spec={"groups": [{"name": group, "rules": [a.rule() for a in alerts]}]},
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self._args.k8s_provider, depends_on=[stack]
                ),
            )

    def _peer_probes(self, stack: k8s.helm.v3.Release, urls: pulumi.Input[list[str]]) -> None:
        """Probe the other regions' health endpoints over the internet, as users reach them."""
        obs = self._args.settings.observability
        exporter = k8s.helm.v3.Release(
            f"{self._name}-blackbox-exporter",
            name="blackbox-exporter",
            chart="prometheus-blackbox-exporter",
            version=obs.blackbox_exporter_chart_version,
            namespace="monitoring",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=PROMETHEUS_REPO),
            atomic=True,
            values={
                "fullnameOverride": "blackbox-exporter",
                "replicas": 2,
                "podSecurityContext": {**POD_SECURITY, "runAsUser": 1000, "runAsGroup": 1000},
                "securityContext": CONTAINER_SECURITY,
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "200m", "memory": "128Mi"},
                },
            },
            opts=self._k8s,
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-peer-regions-probe",
            api_version="monitoring.coreos.com/v1",
            kind="Probe",
            metadata=self._meta(PEER_PROBE_JOB, "monitoring"),
            spec={
                "jobName": PEER_PROBE_JOB,
                "interval": "30s",
                "module": "http_2xx",
                "prober": {"url": "blackbox-exporter.monitoring.svc:9115"},
                "targets": {"staticConfig": {"static": urls}},
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=self._args.k8s_provider, depends_on=[stack, exporter]
            ),
        )

    def _dashboards(self) -> None:
        for uid, board in dashboard_files().items():
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{uid}",
                metadata=self._meta(f"dashboard-{uid}", "monitoring", grafana_dashboard="1"),
                data={f"{uid}.json": json.dumps(board, indent=2)},
                opts=self._k8s,
            )

    # -- logs ------------------------------------------------------------------------

    def _logs(self) -> pulumi.Output[str]:
        args, search = self._args, self._args.settings.observability.opensearch
        child = pulumi.ResourceOptions(parent=self)
        sg = nodes_only_security_group(
            f"{self._name}-opensearch-sg",
            args.vpc_id,
            args.node_security_group_id,
            443,
            "OpenSearch",
            parent=self,
        )
        # Its write policy needs the domain's ARN, so it is attached below.
        fluent_role = self._irsa("fluent-bit", "logging", "fluent-bit")
        count = search.instance_count
        # OpenSearch allows 28 characters: af-<stack>-logs fits every stack name we use.
        domain_name = f"af-{args.settings.stack}-logs"
        domain = aws.opensearch.Domain(
            f"{self._name}-opensearch",
            domain_name=domain_name,
            engine_version=search.engine_version,
            cluster_config=aws.opensearch.DomainClusterConfigArgs(
                instance_type=search.instance_type,
                instance_count=count,
                zone_awareness_enabled=count > 1,
                zone_awareness_config=aws.opensearch.DomainClusterConfigZoneAwarenessConfigArgs(
                    availability_zone_count=min(count, 3)
                )
                if count > 1
                else None,
            ),
            ebs_options=aws.opensearch.DomainEbsOptionsArgs(
                ebs_enabled=True, volume_type="gp3", volume_size=search.volume_gib
            ),
            vpc_options=aws.opensearch.DomainVpcOptionsArgs(
                subnet_ids=pulumi.Output.from_input(args.data_subnet_ids).apply(
                    lambda ids: ids[: min(count, 3)]
                ),
                security_group_ids=[sg.id],
            ),
            encrypt_at_rest=aws.opensearch.DomainEncryptAtRestArgs(
                enabled=True, kms_key_id=args.data_key_arn
            ),
            node_to_node_encryption=aws.opensearch.DomainNodeToNodeEncryptionArgs(enabled=True),
            domain_endpoint_options=aws.opensearch.DomainDomainEndpointOptionsArgs(
                enforce_https=True, tls_security_policy="Policy-Min-TLS-1-2-PFS-2023-10"
            ),
            advanced_security_options=aws.opensearch.DomainAdvancedSecurityOptionsArgs(
                enabled=True,
                internal_user_database_enabled=False,
                master_user_options=aws.opensearch.DomainAdvancedSecurityOptionsMasterUserOptionsArgs(
                    master_user_arn=fluent_role.arn
                ),
            ),
            # FGAC decides per index; the domain policy admits only the log shipper's role.
            access_policies=pulumi.Output.all(
                fluent_role.arn, args.account.partition, args.account.account_id
            ).apply(
                lambda v: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": v[0]},
                            "Action": ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                            "Resource": (
                                f"arn:{v[1]}:es:{args.account.region}:{v[2]}:domain/{domain_name}/*"
                            ),
                        }
                    ]
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.iam.RolePolicy(
            f"{self._name}-fluent-bit-write",
            role=fluent_role.id,
            policy=domain.arn.apply(
                lambda arn: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Action": ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                            "Resource": f"{arn}/*",
                        }
                    ]
                )
            ),
            opts=child,
        )
        obs = args.settings.observability
        k8s.helm.v3.Release(
            f"{self._name}-fluent-bit",
            name="fluent-bit",
            chart="fluent-bit",
            version=obs.fluent_bit_chart_version,
            namespace="logging",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=FLUENT_REPO),
            atomic=True,
            values={
                "serviceAccount": {
                    "name": "fluent-bit",
                    "annotations": {"eks.amazonaws.com/role-arn": fluent_role.arn},
                },
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "500m", "memory": "512Mi"},
                },
                "securityContext": {**CONTAINER_SECURITY, "runAsNonRoot": False},
                "config": {
                    "outputs": domain.endpoint.apply(
                        lambda host: (
                            "[OUTPUT]\n    Name opensearch\n    Match kube.*\n"
                            f"    Host {host}\n    Port 443\n    tls On\n    AWS_Auth On\n"
                            f"    AWS_Region {args.account.region}\n    Logstash_Format On\n"
                            "    Logstash_Prefix logs\n    Suppress_Type_Name On\n"
                            "    Retry_Limit 5\n"
                        )
                    ),
                },
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider),
        )
        return domain.endpoint

    # -- traces ----------------------------------------------------------------------

    def _traces(self) -> None:
        args, obs = self._args, self._args.settings.observability
        role = self._irsa(
            "tempo",
            "tracing",
            "tempo",
            pulumi.Output.all(args.traces_bucket_arn, args.s3_key_arn).apply(
                lambda v: [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                        "Resource": f"{v[0]}/traces/*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": v[0],
                        "Condition": {"StringLike": {"s3:prefix": ["traces/*"]}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                        "Resource": v[1],
                    },
                ]
            ),
        )
        tempo = k8s.helm.v3.Release(
            f"{self._name}-tempo",
            name="tempo",
            chart="tempo",
            version=obs.tempo_chart_version,
            namespace="tracing",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=GRAFANA_REPO),
            atomic=True,
            values={
                "serviceAccount": {
                    "name": "tempo",
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
                "tempo": {
                    "retention": f"{args.settings.data_stores.storage.traces_retention_days * 24}h",
                    "storage": {
                        "trace": {
                            "backend": "s3",
                            "s3": {
                                "bucket": args.traces_bucket,
                                "prefix": "traces",
                                "endpoint": f"s3.{args.account.region}.amazonaws.com",
                            },
                        }
                    },
                    "resources": {
                        "requests": {"cpu": "200m", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "4Gi"},
                    },
                    "securityContext": CONTAINER_SECURITY,
                },
                "securityContext": {**POD_SECURITY, "runAsUser": 10001, "fsGroup": 10001},
            },
            opts=pulumi.ResourceOptions(parent=self, provider=args.k8s_provider),
        )
        k8s.helm.v3.Release(
            f"{self._name}-otel-collector",
            name="otel-collector",
            chart="opentelemetry-collector",
            version=obs.otel_collector_chart_version,
            namespace="tracing",
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=OTEL_REPO),
            atomic=True,
            values={
                "mode": "deployment",
                "replicaCount": 2 if args.settings.environment != "dev" else 1,
                "image": {"repository": "otel/opentelemetry-collector-contrib"},
                "resources": {
                    "requests": {"cpu": "200m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "securityContext": CONTAINER_SECURITY,
                "podSecurityContext": POD_SECURITY,
                "config": {
                    "processors": {**tempo_sampling(obs.trace_sampling_percent), "batch": {}},
                    "exporters": {
                        "otlp": {"endpoint": "tempo.tracing.svc:4317", "tls": {"insecure": True}}
                    },
                    "service": {
                        "pipelines": {
                            "traces": {
                                "receivers": ["otlp"],
                                "processors": ["probabilistic_sampler", "batch"],
                                "exporters": ["otlp"],
                            }
                        }
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self, provider=args.k8s_provider, depends_on=[tempo]
            ),
        )

    # -- AWS alarms ------------------------------------------------------------------

    def _aws_alarms(self) -> pulumi.Output[str]:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{self._name}-alarms",
            name=f"{args.settings.cluster_name}-alarms",
            kms_master_key_id=args.logs_key_arn,
            opts=child,
        )
        alarms: list[tuple[str, str, dict[str, str], AlarmSpec]] = []
        for index, identifier in enumerate(args.postgres_identifiers):
            suffix = "primary" if index == 0 else f"replica-{index}"
            lags = index > 0 or args.postgres_primary_is_replica
            specs = RDS_ALARMS if lags else RDS_ALARMS[:-1]
            for spec in specs:
                alarms.append(
                    (f"rds-{suffix}", "AWS/RDS", {"DBInstanceIdentifier": identifier}, spec)
                )
        for node in args.cache_node_ids:
            shard, member = node.rsplit("-", 2)[-2:]
            for spec in CACHE_ALARMS:
                alarms.append(
                    (f"cache-{shard}-{member}", "AWS/ElastiCache", {"CacheClusterId": node}, spec)
                )
        for prefix, namespace, dimensions, spec in alarms:
            aws.cloudwatch.MetricAlarm(
                f"{self._name}-{prefix}-{spec.key}",
                namespace=namespace,
                metric_name=spec.metric,
                dimensions=dimensions,
                statistic=spec.statistic,
                period=300,
                evaluation_periods=3,
                comparison_operator=spec.operator,
                threshold=spec.threshold,
                # No storage datapoints means the instance is gone: that must alarm.
                treat_missing_data="breaching" if spec.key == "storage" else "notBreaching",
                alarm_actions=[topic.arn],
                ok_actions=[topic.arn],
                alarm_description=f"{spec.metric} {spec.operator} {spec.threshold:g}: "
                "see docs/runbooks/data-store-alarm.md",
                opts=child,
            )
        return topic.arn

"""Observability: metrics, alerts with runbooks, dashboards, logs, traces and AWS alarms.

Everything is code or data in this repository: alert rules come from
:mod:`components.observability.alerts`, dashboards from ``dashboards/*.json`` (loaded by Grafana's
sidecar through labelled ConfigMaps), runbooks from ``docs/runbooks/``.

What a real cluster needs that mocks do not check:

- Order: a child never inherits its component's ``depends_on``, so every namespaced object
  waits for its namespace (``ObservabilityArgs.namespaces``), every ExternalSecret for the
  ClusterSecretStore (and so for the External Secrets CRDs), and every
  ``monitoring.coreos.com`` object for the kube-prometheus-stack release that installs them.
- Secrets: the integration keys and the Grafana OIDC client secret are set by a person.
  Each entry gets a placeholder version (never overwritten: ``ignore_changes``) so the
  first install does not wait for a value, and a :class:`Prerequisite` with the command
  that sets the real one (``docs/runbooks/alerting-integrations.md`` says what does not
  work until then).
- Scraping: ingress-nginx and cert-manager (Security's releases) are scraped by the
  ServiceMonitors created here, after the release that installs their CRD. The backup
  alerts read Velero (scraped by its own PodMonitor, :mod:`components.backups.velero`):
  they are on where the stack installs it (``ObservabilityArgs.backup_alerts``).
- Alarms: the alarm topic (KMS-encrypted; its policy admits CloudWatch alarms, EventBridge
  rules and S3 notifications of this account) notifies PagerDuty over HTTPS when the secret
  ``observability.alarmEndpoint`` is configured; without it there is no subscriber and the
  preview prints the ``pulumi config set --secret`` command as a prerequisite.
- Charts: each is a :class:`HelmAddon` whose values, footprint and IAM policy come from
  its module in :mod:`components.addons`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.addons import (
    argo_rollouts,
    blackbox_exporter,
    cert_manager,
    fluent_bit,
    ingress_nginx,
    kube_prometheus_stack,
    otel_collector,
    tempo,
)
from components.addons.charts import pinned
from components.addons.registry import HelmAddon, IrsaSpec, MonitorSpec, install
from components.context import ClusterContext
from components.data.datastores import CacheNode
from components.footprint import Metrics, ReleaseFootprint
from components.iam import IrsaRole, policy_document, role_arn
from components.network.network import nodes_only_security_group
from components.observability.alarm_topic import alarm_topic_policy
from components.observability.alerts import PEER_PROBE_JOB, SloTargets, alert_groups
from components.observability.opensearch_setup import (
    OpenSearchSetup,
    OpenSearchSetupArgs,
    opensearch_admin_role,
)
from components.prerequisites import Prerequisite, prerequisites_output
from components.secrets import SecretSpec, out_of_band_secret
from components.security.security import SecretStore
from components.settings import ObservabilitySettings

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
RUNBOOK = "docs/runbooks/alerting-integrations.md"
# Keys in Secrets Manager that on-call tooling owns; values are set out of band.
ALERTING_SECRET = "alerting/integrations"
ALERTING_KEYS = ("pagerduty-routing-key", "slack-webhook-url", "deadmans-switch-url")
GRAFANA_OIDC_SECRET = "grafana/oidc"
# OpenSearch log types published to CloudWatch (AUDIT_LOGS needs fine-grained access
# control, which the domain enables).
OPENSEARCH_LOGS = {
    "application": "ES_APPLICATION_LOGS",
    "audit": "AUDIT_LOGS",
    "index-slow": "INDEX_SLOW_LOGS",
    "search-slow": "SEARCH_SLOW_LOGS",
}


@dataclass(frozen=True)
class ScrapeTarget:
    """A metrics Service of another component's release, scraped by a ServiceMonitor here.

    ``labels`` and ``port`` are what the chart renders on its metrics Service (checked
    against the chart templates; see ``PLATFORM_SCRAPES`` for where their metrics are declared).
    """

    name: str
    namespace: str
    labels: Mapping[str, str]
    port: str
    prefixes: tuple[str, ...]

    @property
    def via(self) -> str:
        return f"ServiceMonitor/monitoring/{self.name}"


# ingress-nginx 4.x: <release>-controller-metrics, selector labels + component=controller,
# port "metrics" (controller.metrics.portName). cert-manager: Service <release>, port
# "tcp-prometheus-servicemonitor" (9402).
INGRESS_NGINX_METRICS = ScrapeTarget(
    ingress_nginx.MONITOR,
    ingress_nginx.NAMESPACE,
    {
        "app.kubernetes.io/name": "ingress-nginx",
        "app.kubernetes.io/instance": ingress_nginx.NAME,
        "app.kubernetes.io/component": "controller",
    },
    "metrics",
    ingress_nginx.METRIC_PREFIXES,
)
CERT_MANAGER_METRICS = ScrapeTarget(
    cert_manager.MONITOR,
    cert_manager.NAMESPACE,
    {
        "app.kubernetes.io/name": "cert-manager",
        "app.kubernetes.io/instance": cert_manager.NAME,
        "app.kubernetes.io/component": "controller",
    },
    "tcp-prometheus-servicemonitor",
    cert_manager.METRIC_PREFIXES,
)
# argo-rollouts 2.40.5: Service <release>-metrics, selector name/instance +
# component=rollouts-controller, port "metrics" (controller.metrics.service.portName).
ARGO_ROLLOUTS_METRICS = ScrapeTarget(
    argo_rollouts.MONITOR,
    argo_rollouts.NAMESPACE,
    argo_rollouts.METRICS_LABELS,
    argo_rollouts.METRICS_PORT_NAME,
    argo_rollouts.METRIC_PREFIXES,
)
SECURITY_SCRAPES = (INGRESS_NGINX_METRICS, CERT_MANAGER_METRICS, ARGO_ROLLOUTS_METRICS)


@dataclass(frozen=True)
class ObservabilityArgs:
    cluster: ClusterContext
    settings: ObservabilitySettings
    # The stack's chart overrides (``agent-factory:charts``).
    charts: Mapping[str, str]
    stack: str
    environment: str
    # agent-factory-<stack>: this stack's account-level names (secrets, alarm topic, log
    # policy) start with it. Plain text: the prerequisites print it.
    cluster_name: str
    # Grafana is grafana-<stack>.<domain>, under the ingress controller's wildcard.
    domain: str
    # Who may reach Grafana through the ingress (the cluster API's public CIDRs); empty: all.
    public_access_cidrs: tuple[str, ...]
    # SRE roles (names or ARNs): readers of the log domain.
    sre_roles: tuple[str, ...]
    traces_retention_days: int
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
    cache_nodes: Sequence[CacheNode]
    protect: bool
    # Namespace name -> what creates it with its quota, limits and policies (monitoring,
    # logging, tracing): objects here wait for it.
    namespaces: Mapping[str, pulumi.Resource]
    # The ClusterSecretStore: ExternalSecrets name it and wait for it (and so for the CRDs).
    secret_store: SecretStore
    # The ingress class Grafana's Ingress asks for.
    ingress_class: str
    # The database's max_connections: the connections alarm fires at 90 % of it.
    postgres_max_connections: int
    # Retention of the OpenSearch log groups (the cluster's log retention).
    log_retention_days: int
    # Multi-region: the other regions' health URLs, probed from here (None: no probing).
    peer_health_urls: pulumi.Input[list[str]] | None = None
    # Velero's backup alerts: on where the stack installs Velero (components/backups).
    backup_alerts: bool = False
    # Zone and ingress load balancer for Grafana's DNS name (None: no record).
    dns_zone_id: pulumi.Input[str] | None = None
    ingress_hostname: pulumi.Input[str] | None = None
    # The ingress-nginx release: its admission webhook must be up before an Ingress is sent.
    ingress_controller: pulumi.Resource | None = None


def _role_arn_in(role: str, identity: list[str]) -> str:
    """A configured role name or ARN, resolved with (partition, account id)."""
    return role_arn(role, identity[0], identity[1])


def dashboard_files() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def with_slo_constants(board: dict[str, Any], targets: SloTargets) -> dict[str, Any]:
    """The board with its SLO constants set from the stack's settings, not the JSON's."""
    values = {
        "slo_availability": f"{targets.availability:g}",
        "slo_latency": f"{targets.latency_seconds:g}",
    }
    templating = board.get("templating") or {}
    variables = [
        {**v, "query": values[v["name"]]} if v.get("name") in values else v
        for v in templating.get("list") or []
    ]
    return {**board, "templating": {**templating, "list": variables}}


def grafana_host(stack: str, domain: str) -> str:
    """One label under the domain, so *.domain (the controller's default cert) covers it and
    stacks sharing the zone do not clash."""
    return f"grafana-{stack}.{domain}"


@dataclass(frozen=True)
class AlarmSpec:
    key: str
    metric: str
    operator: str
    threshold: float
    statistic: str = "Average"


def rds_alarms(max_connections: int) -> tuple[AlarmSpec, ...]:
    """The connections alarm fires at 90 % of the configured max_connections."""
    return (
        AlarmSpec("cpu", "CPUUtilization", "GreaterThanThreshold", 80),
        AlarmSpec("storage", "FreeStorageSpace", "LessThanThreshold", 20 * 1024**3),
        AlarmSpec(
            "connections",
            "DatabaseConnections",
            "GreaterThanThreshold",
            int(max_connections * 0.9),
        ),
        # Last: only replicas report lag.
        AlarmSpec("lag", "ReplicaLag", "GreaterThanThreshold", 60),
    )


CACHE_ALARMS = (
    AlarmSpec("memory", "DatabaseMemoryUsagePercentage", "GreaterThanThreshold", 80),
    AlarmSpec("evictions", "Evictions", "GreaterThanThreshold", 1000, "Sum"),
    AlarmSpec("cpu", "EngineCPUUtilization", "GreaterThanThreshold", 80),
)


# Security's releases, scraped by the ServiceMonitors this component creates after the
# release that installs their CRD. Their prefixes are declared on kube-prometheus-stack's
# footprint, where the scrape source lives: the preview's scrape check reads footprints only.
PLATFORM_SCRAPES = tuple(Metrics(target.prefixes, via=target.via) for target in SECURITY_SCRAPES)


class Observability(pulumi.ComponentResource):
    alarm_topic_arn: pulumi.Output[str]
    # The alarm topic's policy: publishers (budgets, anomaly subscriptions, EventBridge
    # rules, S3 notifications) wait for it.
    alarm_topic_policy: aws.sns.TopicPolicy
    # The release that installs the monitoring.coreos.com CRDs: ServiceMonitors wait for it.
    prometheus_release: k8s.helm.v3.Release
    # Where applications send their spans (OTLP/gRPC).
    otlp_endpoint: str
    opensearch_endpoint: pulumi.Output[str]
    grafana_admin_secret: str
    grafana_url: str

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Observability", name, None, opts)
        self._name = name
        self._args = args
        self._labels = {
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
            "agent-factory.io/environment": args.environment,
        }
        slo = args.settings.slo
        self._targets = SloTargets(
            slo.availability, slo.latency_seconds, slo.latency_objective, slo.error_rate
        )
        self._prerequisites: list[Prerequisite] = []
        self.grafana_url = f"https://{grafana_host(args.stack, args.domain)}"
        stack = self._prometheus_stack()
        self.prometheus_release = stack
        self.otlp_endpoint = otel_collector.OTLP_GRPC_ENDPOINT
        self._scrape_platform(stack)
        self._alert_rules(stack)
        if args.peer_health_urls is not None:
            self._peer_probes(stack, args.peer_health_urls)
        self._dashboards()
        self._grafana_ingress(stack)
        self.opensearch_endpoint = self._logs()
        self._traces()
        self.alarm_topic_arn = self._aws_alarms()
        self.register_outputs(
            {
                "alarmTopicArn": self.alarm_topic_arn,
                "opensearchEndpoint": self.opensearch_endpoint,
                "grafanaUrl": self.grafana_url,
                **prerequisites_output(self._prerequisites),
            }
        )

    # -- helpers ---------------------------------------------------------------------

    def _in(self, namespace: str, *after: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for an object in ``namespace``: it waits for the namespace (and its
        quota and limits) and for ``after``."""
        return pulumi.ResourceOptions(
            parent=self,
            provider=self._args.cluster.k8s_provider,
            depends_on=[self._args.namespaces[namespace], *after],
        )

    def _meta(
        self, name: str, namespace: str, annotations: Mapping[str, str] | None = None, **labels: str
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels={**self._labels, "app.kubernetes.io/name": name, **labels},
            annotations=dict(annotations) if annotations else None,
        )

    def _addon(
        self,
        chart: str,
        values: Mapping[str, Any],
        footprint: ReleaseFootprint,
        *,
        after: Sequence[pulumi.Resource] = (),
        irsa: IrsaSpec | None = None,
        monitor: MonitorSpec | None = None,
    ) -> HelmAddon:
        """A chart released into the namespace its footprint names, after that namespace
        and ``after``."""
        return install(
            self,
            self._name,
            pinned(chart, self._args.charts),
            values=values,
            footprint=footprint,
            cluster=self._args.cluster,
            depends_on=[self._args.namespaces[footprint.namespace], *after],
            irsa=irsa,
            monitor=monitor,
        )

    def _synced_secret(
        self, name: str, path: str, properties: Sequence[str], purpose: str
    ) -> k8s.apiextensions.CustomResource:
        """A Secrets Manager entry mirrored into ``monitoring/<name>``.

        The entry is set out of band (``components/secrets.py``): a placeholder first, the
        value by the prerequisite the preview prints.
        """
        args = self._args
        made = out_of_band_secret(
            f"{self._name}-{name}",
            SecretSpec(path, properties, purpose, RUNBOOK),
            cluster_name=args.cluster_name,
            region=args.cluster.account.region,
            kms_key_arn=args.secrets_key_arn,
            protect=args.protect,
            parent=self,
        )
        self._prerequisites.append(made.prerequisite)
        secret, placeholder = made.secret, made.placeholder
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{name}-sync",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=self._meta(name, "monitoring"),
            spec={
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": args.secret_store.name},
                "target": {"name": name},
                "data": [
                    {"secretKey": key, "remoteRef": {"key": secret.name, "property": key}}
                    for key in properties
                ],
            },
            opts=self._in("monitoring", args.secret_store.resource, placeholder),
        )

    # -- metrics ---------------------------------------------------------------------

    def _prometheus_stack(self) -> k8s.helm.v3.Release:
        args, obs = self._args, self._args.settings
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
            opts=self._in("monitoring"),
        )
        # Integration keys and the OIDC client secret live in Secrets Manager (values set
        # out of band); External Secrets copies them into the namespace as files.
        keys_secret, oidc_secret = "alertmanager-integrations", "grafana-oidc"
        keys = self._synced_secret(
            keys_secret,
            ALERTING_SECRET,
            ALERTING_KEYS,
            "the PagerDuty routing key, the Slack webhook URL and the dead-man's-switch URL",
        )
        oidc = self._synced_secret(
            oidc_secret, GRAFANA_OIDC_SECRET, ("client-secret",), "Grafana's OIDC secret"
        )
        replicas = 2 if args.environment != "dev" else 1
        addon = self._addon(
            kube_prometheus_stack.NAME,
            kube_prometheus_stack.values(
                replicas=replicas,
                retention_days=obs.prometheus_retention_days,
                storage_gib=obs.prometheus_storage_gib,
                storage_class=args.storage_class,
                grafana_url=self.grafana_url,
                oidc_issuer=obs.grafana_oidc_issuer,
                oidc_client_id=obs.grafana_oidc_client_id,
                admin_secret=self.grafana_admin_secret,
                integrations_secret=keys_secret,
                oidc_secret=oidc_secret,
            ),
            kube_prometheus_stack.footprint(replicas, scraped=PLATFORM_SCRAPES),
            after=[admin, keys, oidc],
        )
        return addon.release

    def _scrape_platform(self, stack: k8s.helm.v3.Release) -> None:
        """ServiceMonitors for Security's charts: their own would need the CRD before it
        exists, so they are created here, after the release that installs it."""
        for target in SECURITY_SCRAPES:
            k8s.apiextensions.CustomResource(
                f"{self._name}-monitor-{target.name}",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=self._meta(target.name, "monitoring"),
                spec={
                    "namespaceSelector": {"matchNames": [target.namespace]},
                    "selector": {"matchLabels": dict(target.labels)},
                    # No honorLabels: the metric's own namespace/service labels become
                    # exported_namespace/exported_service, as the dashboards read them.
                    "endpoints": [{"port": target.port, "interval": "30s"}],
                },
                opts=self._in("monitoring", stack),
            )

    def _alert_rules(self, stack: k8s.helm.v3.Release) -> None:
        args = self._args
        groups = alert_groups(
            self._targets,
            peer_regions=args.peer_health_urls is not None,
            backups=args.backup_alerts,
        )
        for group, alerts in groups.items():
            k8s.apiextensions.CustomResource(
                f"{self._name}-rules-{group.rsplit('.', 1)[-1]}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=self._meta(group.replace(".", "-"), "monitoring"),
                spec={"groups": [{"name": group, "rules": [a.rule() for a in alerts]}]},
                opts=self._in("monitoring", stack),
            )

    def _peer_probes(self, stack: k8s.helm.v3.Release, urls: pulumi.Input[list[str]]) -> None:
        """Probe the other regions' health endpoints over the internet, as users reach them."""
        replicas = 2
        probe = MonitorSpec(
            kind="Probe",
            name=PEER_PROBE_JOB,
            spec=blackbox_exporter.probe_spec(PEER_PROBE_JOB, urls),
            labels={**self._labels, "app.kubernetes.io/name": PEER_PROBE_JOB},
            after=[self._args.namespaces["monitoring"], stack],
            previous_name=f"{self._name}-peer-regions-probe",
        )
        self._addon(
            blackbox_exporter.CHART,
            blackbox_exporter.values(replicas),
            blackbox_exporter.footprint(replicas, via=probe.via),
            monitor=probe,
        )

    def _dashboards(self) -> None:
        for uid, board in dashboard_files().items():
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{uid}",
                metadata=self._meta(f"dashboard-{uid}", "monitoring", grafana_dashboard="1"),
                data={
                    f"{uid}.json": json.dumps(with_slo_constants(board, self._targets), indent=2)
                },
                opts=self._in("monitoring"),
            )

    def _grafana_ingress(self, stack: k8s.helm.v3.Release) -> None:
        """Grafana at its OIDC root_url, through the ingress controller.

        TLS without a secretName: the controller serves its default certificate (the
        *.domain wildcard). Source ranges: the cluster's public access CIDRs when set.
        """
        args = self._args
        host = grafana_host(args.stack, args.domain)
        cidrs = args.public_access_cidrs
        annotations = (
            {"nginx.ingress.kubernetes.io/whitelist-source-range": ",".join(cidrs)}
            if cidrs
            else None
        )
        k8s.networking.v1.Ingress(
            f"{self._name}-grafana-ingress",
            metadata=self._meta("grafana", "monitoring", annotations),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.ingress_class,
                tls=[k8s.networking.v1.IngressTLSArgs(hosts=[host])],
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=kube_prometheus_stack.GRAFANA_SERVICE,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(
                                                name=kube_prometheus_stack.GRAFANA_PORT
                                            ),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
            ),
            opts=self._in(
                "monitoring",
                stack,
                *([args.ingress_controller] if args.ingress_controller else []),
            ),
        )
        if args.dns_zone_id is not None and args.ingress_hostname is not None:
            aws.route53.Record(
                f"{self._name}-grafana-dns",
                zone_id=args.dns_zone_id,
                name=host,
                type="CNAME",
                ttl=300,
                records=[args.ingress_hostname],
                opts=pulumi.ResourceOptions(parent=self),
            )

    # -- logs ------------------------------------------------------------------------

    def _log_groups(
        self, domain_name: str
    ) -> tuple[dict[str, aws.cloudwatch.LogGroup], aws.cloudwatch.LogResourcePolicy]:
        """KMS-encrypted groups for the domain's logs and the policy letting OpenSearch
        write to exactly those groups from this account."""
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        groups = {
            key: aws.cloudwatch.LogGroup(
                f"{self._name}-opensearch-{key}-logs",
                name=f"/aws/opensearch/{domain_name}/{key}",
                kms_key_id=args.logs_key_arn,
                retention_in_days=args.log_retention_days,
                opts=child,
            )
            for key in OPENSEARCH_LOGS
        }
        policy = aws.cloudwatch.LogResourcePolicy(
            f"{self._name}-opensearch-logs-policy",
            policy_name=f"{args.cluster_name}-opensearch-logs",
            policy_document=pulumi.Output.all(
                args.cluster.account.account_id, *[g.arn for g in groups.values()]
            ).apply(
                lambda v: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "es.amazonaws.com"},
                            "Action": ["logs:PutLogEvents", "logs:CreateLogStream"],
                            "Resource": [f"{arn}:*" for arn in v[1:]],
                            "Condition": {"StringEquals": {"aws:SourceAccount": v[0]}},
                        }
                    ]
                )
            ),
            opts=child,
        )
        return groups, policy

    def _logs(self) -> pulumi.Output[str]:
        args, search = self._args, self._args.settings.opensearch
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
        fluent_role = IrsaRole(
            f"{self._name}-fluent-bit",
            args.cluster.oidc,
            fluent_bit.NAMESPACE,
            fluent_bit.SERVICE_ACCOUNT,
            parent=self,
        )
        # The domain's master user: only the setup Job's service account may assume it. It
        # maps the shipper and the SREs to their OpenSearch roles and applies retention.
        admin = opensearch_admin_role(
            f"{self._name}-opensearch-admin",
            args.cluster.oidc,
            parent=self,
        )
        account = args.cluster.account
        identity = pulumi.Output.all(account.partition, account.account_id)
        sre_roles: list[pulumi.Output[str]] = [
            identity.apply(functools.partial(_role_arn_in, role)) for role in args.sre_roles
        ]
        count = search.instance_count
        # OpenSearch allows 28 characters: af-<stack>-logs fits every stack name we use.
        domain_name = f"af-{args.stack}-logs"
        log_groups, log_policy = self._log_groups(domain_name)
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
                    master_user_arn=admin.arn
                ),
            ),
            log_publishing_options=[
                aws.opensearch.DomainLogPublishingOptionArgs(
                    cloudwatch_log_group_arn=log_groups[key].arn, log_type=log_type, enabled=True
                )
                for key, log_type in OPENSEARCH_LOGS.items()
            ],
            # FGAC decides per index; the domain policy admits the shipper, the setup Job's
            # admin role and the SREs, nobody else.
            access_policies=pulumi.Output.all(
                account.partition, account.account_id, fluent_role.arn, admin.arn, *sre_roles
            ).apply(
                lambda v: policy_document(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": list(v[2:])},
                            "Action": ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"],
                            "Resource": (
                                f"arn:{v[0]}:es:{account.region}:{v[1]}:domain/{domain_name}/*"
                            ),
                        }
                    ]
                )
            ),
            # AWS rejects log publishing until the resource policy admits the service.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[log_policy]),
        )
        aws.iam.RolePolicy(
            f"{self._name}-fluent-bit-write",
            role=fluent_role.role.id,
            policy=domain.arn.apply(lambda arn: policy_document(fluent_bit.policy(arn))),
            opts=child,
        )
        self._addon(
            fluent_bit.NAME,
            fluent_bit.values(
                annotations=fluent_role.annotations,
                opensearch_endpoint=domain.endpoint,
                region=account.region,
            ),
            fluent_bit.footprint(),
        )
        OpenSearchSetup(
            f"{self._name}-opensearch-setup",
            OpenSearchSetupArgs(
                domain_endpoint=domain.endpoint,
                domain_arn=domain.arn,
                region=account.region,
                admin_role=admin,
                fluent_bit_role_arn=fluent_role.arn,
                sre_role_arns=sre_roles,
                retention_days=search.retention_days,
                k8s_provider=args.cluster.k8s_provider,
                labels=self._labels,
                namespace_depends_on=[args.namespaces["logging"]],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return domain.endpoint

    # -- traces ----------------------------------------------------------------------

    def _traces(self) -> None:
        args, obs = self._args, self._args.settings
        account = args.cluster.account
        traces = self._addon(
            tempo.NAME,
            tempo.values(
                retention_days=args.traces_retention_days,
                bucket=args.traces_bucket,
                region=account.region,
                dns_suffix=account.dns_suffix,
            ),
            tempo.footprint(),
            irsa=IrsaSpec(
                tempo.SERVICE_ACCOUNT,
                pulumi.Output.all(args.traces_bucket_arn, args.s3_key_arn).apply(
                    lambda v: tempo.policy(v[0], v[1])
                ),
            ),
        )
        collectors = 2 if args.environment != "dev" else 1
        self._addon(
            otel_collector.CHART,
            otel_collector.values(
                replicas=collectors,
                sampling_percent=obs.trace_sampling_percent,
                tempo_endpoint=tempo.OTLP_ENDPOINT,
            ),
            otel_collector.footprint(collectors),
            after=[traces.release],
        )

    # -- AWS alarms ------------------------------------------------------------------

    def _alarm_subscription(self, topic: aws.sns.Topic) -> None:
        """PagerDuty's CloudWatch integration over HTTPS, or the prerequisite to set it."""
        args = self._args
        endpoint = args.settings.alarm_endpoint
        if endpoint is None:
            self._prerequisites.append(
                Prerequisite(
                    what=f"the alarm topic {args.cluster_name}-alarms has a "
                    "subscriber (until then data-store alarms reach no one)",
                    how=(
                        "pulumi config set --secret --path observability.alarmEndpoint "
                        "'https://events.pagerduty.com/integration/<key>/enqueue' "
                        f"-s {args.stack}"
                    ),
                )
            )
            return
        aws.sns.TopicSubscription(
            f"{self._name}-alarms-pagerduty",
            topic=topic.arn,
            protocol="https",
            endpoint=pulumi.Output.secret(endpoint),
            # PagerDuty confirms the subscription itself.
            endpoint_auto_confirms=True,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _aws_alarms(self) -> pulumi.Output[str]:
        args = self._args
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{self._name}-alarms",
            name=f"{args.cluster_name}-alarms",
            kms_master_key_id=args.logs_key_arn,
            opts=child,
        )
        account = args.cluster.account
        self.alarm_topic_policy = aws.sns.TopicPolicy(
            f"{self._name}-alarms-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account.partition, account.account_id).apply(
                lambda v: alarm_topic_policy(v[1], v[2], v[0], account.region, args.cluster_name)
            ),
            opts=child,
        )
        self._alarm_subscription(topic)
        rds = rds_alarms(args.postgres_max_connections)
        alarms: list[tuple[str, str, dict[str, str], AlarmSpec]] = []
        for index, identifier in enumerate(args.postgres_identifiers):
            suffix = "primary" if index == 0 else f"replica-{index}"
            lags = index > 0 or args.postgres_primary_is_replica
            specs = rds if lags else rds[:-1]
            for spec in specs:
                alarms.append(
                    (f"rds-{suffix}", "AWS/RDS", {"DBInstanceIdentifier": identifier}, spec)
                )
        for node in args.cache_nodes:
            for spec in CACHE_ALARMS:
                alarms.append(
                    (f"cache-{node.label}", "AWS/ElastiCache", {"CacheClusterId": node.id}, spec)
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

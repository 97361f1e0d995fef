"""Services: the Agent Factory workloads, delivered by Argo CD from the in-repo chart.

Argo CD owns the chart's objects in the cluster; Pulumi owns what only the platform knows
and the ApplicationSet that hands it over. The ApplicationSet's list generator carries,
per stack, the values only the platform knows (images by digest, the service accounts and
their IRSA roles, data-store endpoints and CIDRs, the secrets' ARNs, pools, hostnames) as
one JSON document; it generates one Application per workload, each rendering
``charts/agent-factory`` from git with ``values-<environment>.yaml`` and that document on
top, restricted to its workload's objects (``render``). The offline preview renders the
same Applications the same way (``tools/synth.py``), so the pack and the admission checks
judge every object Argo CD will apply, each once. docs/services.md and docs/delivery.md say
why, and how the objects the former ``helm.v4.Chart`` created are handed over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.addons.kube_prometheus_stack import PROMETHEUS_URL
from components.context import ClusterContext
from components.footprint import Metrics, ReleaseFootprint, footprints_output
from components.prerequisites import Prerequisite, prerequisites_output
from components.settings import ServicesSettings, Taint
from components.settings.services import WORKLOADS

# Relative to the repository's root: where Argo CD finds the chart in git, and where the
# offline preview renders it from the checkout.
CHART_PATH = "charts/agent-factory"
RELEASE = "agent-factory"
APPLICATION_SET = "agent-factory"
# Set on the Application during a rollback: the notifications' on-rollback trigger reads it.
ROLLBACK_ANNOTATION = "agent-factory.io/rollback-to"
IN_CLUSTER = "https://kubernetes.default.svc"
# Retries of a failed sync: 30 s, 1 min, 2 min, 4 min, 8 min (capped at 10 min).
RETRY = {"limit": 5, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "10m"}}
# Where each image lives in the registry: <registry>/agent-factory/<workload>.
REPOSITORY_PREFIX = "agent-factory"
# The application contract's request histogram (charts/agent-factory/README.md), which
# the analyses of the Rollouts read from what each workload's ServiceMonitor scrapes.
REQUEST_METRIC = "http_server_request_duration_seconds"


def values_file(environment: str) -> str:
    """The environment's values file, relative to the chart (as Argo CD's valueFiles)."""
    return f"values-{environment}.yaml"


@dataclass(frozen=True)
class Delivery:
    """Where the Application comes from and what it may do: Argo CD's namespace and
    project, the repository and branch, and what the ApplicationSet waits for (the
    release that installs the argoproj.io CRDs, the project)."""

    namespace: str
    project: str
    repo_url: str
    target_revision: str
    # prod: no automated prune (a deleted manifest waits for a person), syncs in windows.
    prune: bool
    after: Sequence[pulumi.Resource]


@dataclass(frozen=True)
class Placement:
    """Where a workload's pods run: its pool's label, and a toleration of each taint."""

    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, str], ...] = ()

    @classmethod
    def on_pool(cls, pool: str, taints: Sequence[Taint]) -> Placement:
        return cls(
            {"workload-type": pool},
            tuple(
                {
                    "key": t.key,
                    "operator": "Equal",
                    "value": t.value,
                    "effect": t.kubernetes_effect,
                }
                for t in taints
            ),
        )


@dataclass(frozen=True)
class RemoteWriter:
    """The primary's writer database as a secondary's services reach it over the private
    path (docs/multi-region.md): its address and port, and its data subnets (egress)."""

    host: pulumi.Input[str]
    # IAM auth tokens are signed for the database's region, not the pod's.
    region: pulumi.Input[str]
    port: pulumi.Input[int]
    cidrs: pulumi.Input[list[str]]


@dataclass(frozen=True)
class DataEndpoints:
    """The data stores as the workloads reach them: hosts, ports, the subnets they live in
    (NetworkPolicy egress) and the secrets holding their credentials."""

    postgres_host: pulumi.Input[str]
    postgres_port: int
    database: str
    database_user: str
    cache_host: pulumi.Input[str]
    cache_port: int
    cache_auth_secret_arn: pulumi.Input[str]
    # None where the stack runs no Kafka (dev): the worker then scales on its cron trigger.
    kafka_brokers: pulumi.Input[str] | None
    kafka_port: int
    artifacts_bucket: pulumi.Input[str]
    subnet_cidrs: tuple[str, ...]
    # A cross-region replica carries the primary's roles; only a writer needs them made.
    database_is_replica: bool
    # Where writes go while the database is a replica (a secondary); None: the local one.
    writer: RemoteWriter | None = None


@dataclass(frozen=True)
class StackRecord:
    """The DNS name of a stack outside the latency-routed set (dev, staging): a CNAME to
    this cluster's ingress load balancer. The prod regions' names belong to GlobalRouting."""

    zone_id: pulumi.Input[str]
    name: str
    target: pulumi.Input[str]


@dataclass(frozen=True)
class ServicesArgs:
    cluster: ClusterContext
    settings: ServicesSettings
    stack: str
    environment: str
    namespace: str
    registry: pulumi.Input[str]
    # The global name and this region's own (the Route 53 health check asks the latter).
    api_hosts: tuple[str, ...]
    vpc_cidr: str
    # S3's public ranges in the region: the gateway endpoint routes to them, so the
    # workloads' egress policies must name them.
    s3_cidrs: pulumi.Input[list[str]]
    data: DataEndpoints
    # Application secret name -> ARN (the LLM provider keys).
    llm_secret_arns: Mapping[str, pulumi.Input[str]]
    placements: Mapping[str, Placement]
    # Workload -> its ServiceAccount (IRSA annotated by the platform).
    service_accounts: Mapping[str, str]
    ingress_class: str
    ingress_namespace: str
    monitoring_namespace: str
    tracing_namespace: str
    otlp_endpoint: str
    cluster_secret_store: str
    record: StackRecord | None
    # The SLO latency: the Rollouts' analyses abort when the new pods' p95 stays above it.
    slo_latency_seconds: float
    delivery: Delivery
    # What the chart's objects wait for: the namespace, the service accounts, the releases
    # that install the CRDs of its ExternalSecrets, ServiceMonitors, ScaledObjects, VPAs,
    # Rollouts and AnalysisTemplates, and the ingress controller's admission webhook. The
    # ApplicationSet waits for them, so Argo CD applies nothing before they exist.
    depends_on: Sequence[pulumi.Resource]
    # Workload -> autoscaling.minReplicas replacing the environment's (a warm standby,
    # components/services/standby.py); None or absent: the chart's values.
    min_replicas: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        for label, mapping in (
            ("placements", self.placements),
            ("service_accounts", self.service_accounts),
        ):
            missing = sorted(set(WORKLOADS) - set(mapping))
            if missing:
                raise ValueError(f"ServicesArgs.{label}: no entry for {missing}")
        unknown = sorted(set(self.min_replicas or {}) - set(WORKLOADS))
        if unknown:
            raise ValueError(f"ServicesArgs.min_replicas: {unknown} are not workloads")


def image_reference(registry: str, workload: str, tag: str, digest: str) -> str:
    return f"{registry}/{REPOSITORY_PREFIX}/{workload}:{tag}@{digest}"


def application_set(
    name: str,
    *,
    stack: str,
    environment: str,
    namespace: str,
    delivery: Delivery,
    platform_values: str,
) -> dict[str, Any]:
    """The ApplicationSet spec: a list generator with one element per workload of this
    stack, and the Application template Argo CD fills from each (``{{key}}``
    placeholders, Argo CD's default template syntax).

    Every element carries the same platform values with its own ``render`` selection,
    so each Application renders one workload's objects while the chart's NetworkPolicies
    still see every workload (charts/agent-factory/README.md, Rendering per workload).
    The release name stays the same for all: Argo CD tracks what each Application owns by
    its ``argocd.argoproj.io/tracking-id`` annotation (the Application's name), while the
    release name is the ``app.kubernetes.io/instance`` label inside every selector, which
    must not change (docs/delivery.md, One Application per workload)."""
    automated: dict[str, Any] = {"prune": delivery.prune, "selfHeal": True}
    shared = json.loads(platform_values)
    return {
        "generators": [
            {
                "list": {
                    "elements": [
                        {
                            "stack": stack,
                            "environment": environment,
                            "namespace": namespace,
                            "workload": workload,
                            "platformValues": json.dumps({**shared, "render": [workload]}),
                        }
                        for workload in WORKLOADS
                    ]
                }
            }
        ],
        # Deleting the ApplicationSet must not delete the running services with it.
        "syncPolicy": {"preserveResourcesOnDeletion": True},
        # The controller rewrites its Applications' metadata; the rollback marker an SRE
        # sets (docs/runbooks/services-rollback.md) must survive it.
        "preservedFields": {"annotations": [ROLLBACK_ANNOTATION]},
        "template": {
            "metadata": {
                "name": f"{name}-{{{{stack}}}}-{{{{workload}}}}",
                "labels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/component": "{{workload}}",
                    "app.kubernetes.io/part-of": "agent-factory",
                    # The Application is Argo CD's; the objects it applies are too.
                    "app.kubernetes.io/managed-by": "argocd",
                    "agent-factory.io/environment": "{{environment}}",
                    "agent-factory.io/stack": "{{stack}}",
                },
            },
            "spec": {
                "project": delivery.project,
                "source": {
                    "repoURL": delivery.repo_url,
                    "targetRevision": delivery.target_revision,
                    "path": CHART_PATH,
                    "helm": {
                        "releaseName": RELEASE,
                        "valueFiles": [values_file(environment)],
                        "values": "{{platformValues}}",
                    },
                },
                "destination": {"server": IN_CLUSTER, "namespace": "{{namespace}}"},
                "syncPolicy": {
                    "automated": automated,
                    "syncOptions": ["ApplyOutOfSyncOnly=true", "PruneLast=true"],
                    "retry": RETRY,
                },
                "revisionHistoryLimit": 10,
            },
        },
    }


class Services(pulumi.ComponentResource):
    application_set: k8s.apiextensions.CustomResource

    def __init__(
        self, name: str, args: ServicesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Services", name, None, opts)
        settings = args.settings
        delivery = args.delivery
        platform_values = pulumi.Output.json_dumps(self._values(args))
        self.application_set = k8s.apiextensions.CustomResource(
            f"{name}-applicationset",
            api_version="argoproj.io/v1alpha1",
            kind="ApplicationSet",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=APPLICATION_SET,
                namespace=delivery.namespace,
                labels={
                    "app.kubernetes.io/name": APPLICATION_SET,
                    "app.kubernetes.io/part-of": "agent-factory",
                    "app.kubernetes.io/managed-by": "pulumi",
                    "agent-factory.io/environment": args.environment,
                },
            ),
            spec=platform_values.apply(
                lambda values: application_set(
                    APPLICATION_SET,
                    stack=args.stack,
                    environment=args.environment,
                    namespace=args.namespace,
                    delivery=delivery,
                    platform_values=values,
                )
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.cluster.k8s_provider,
                depends_on=[*delivery.after, *args.depends_on],
            ),
        )
        if args.record is not None:
            aws.route53.Record(
                f"{name}-api-dns",
                zone_id=args.record.zone_id,
                name=args.record.name,
                type="CNAME",
                ttl=300,
                records=[args.record.target],
                opts=pulumi.ResourceOptions(parent=self),
            )
        images = pulumi.Output.from_input(args.registry).apply(
            lambda registry: ", ".join(
                image_reference(registry, w, settings.images[w].tag, settings.images[w].digest)
                for w in WORKLOADS
            )
        )
        self.register_outputs(
            {
                "release": RELEASE,
                "applicationSet": APPLICATION_SET,
                "namespace": args.namespace,
                "images": images,
                **prerequisites_output(self._prerequisites(args)),
                **footprints_output([self._footprint(args)]),
            }
        )

    @staticmethod
    def _footprint(args: ServicesArgs) -> ReleaseFootprint:
        """What the chart's ServiceMonitors scrape that the platform reads: the request
        histogram of every workload (the Rollouts' analyses). The chart's pods are objects
        of the plan, counted against the quota as such, so no workloads are declared."""
        return ReleaseFootprint(
            release=RELEASE,
            namespace=args.namespace,
            metrics=tuple(
                Metrics((REQUEST_METRIC,), via=f"ServiceMonitor/{args.namespace}/{workload}")
                for workload in WORKLOADS
            ),
        )

    @staticmethod
    def _prerequisites(args: ServicesArgs) -> list[Prerequisite]:
        """What the pods assume and nothing in the stack can create: the images, the
        database role they log in as (IAM authentication) and the topic they share."""
        data, settings = args.data, args.settings
        items = [
            Prerequisite(
                "a stack that ran the services as the helm.v4.Chart <stack>-services-chart "
                "hands its objects to Argo CD without deleting them: Pulumi no longer "
                "manages them, and removing the Chart from the program would delete every "
                "running Deployment before Argo CD re-creates it",
                "before the first `pulumi up` of this version: pulumi state delete "
                "--target-dependents <urn of the Chart> (pulumi stack --show-urns prints it); "
                "the objects keep running, and Argo CD's first sync adopts them by name "
                "(docs/delivery.md, Handover)",
            ),
            Prerequisite(
                "the services' images exist in the registry at the digests of "
                "agent-factory:services.images",
                "the services' image workflow pushes them; the promotion pull request copies "
                "tag and digest into the stack file",
            ),
        ]
        if not data.database_is_replica:
            items.append(
                Prerequisite(
                    f"the database role {data.database_user} exists in {data.database} with "
                    "rds_iam (the services log in with IAM tokens; until then every login "
                    "fails and no pod gets ready)",
                    "connect to the writer as the master user (password in its RDS-managed "
                    f"secret) and run: CREATE ROLE {data.database_user} LOGIN; GRANT rds_iam "
                    f"TO {data.database_user}; GRANT CONNECT ON DATABASE {data.database} TO "
                    f"{data.database_user}; then the schema grants of the services' migrations",
                )
            )
        if data.kafka_brokers is not None:
            items.append(
                Prerequisite(
                    f"the Kafka topic {settings.kafka_topic} exists (automatic topic creation "
                    "is off) with at least as many partitions as the worker's "
                    "autoscaling.maxReplicas: KEDA scales a consumer group no further than "
                    "its partitions",
                    "with an admin role and the MSK IAM client config: kafka-topics.sh "
                    "--bootstrap-server <kafkaBootstrapBrokers> --command-config iam.properties "
                    f"--create --topic {settings.kafka_topic} --partitions <worker maxReplicas> "
                    "--replication-factor 3",
                )
            )
        return items

    @staticmethod
    def _values(args: ServicesArgs) -> dict[str, Any]:
        settings, data = args.settings, args.data
        min_replicas = args.min_replicas or {}
        kafka: dict[str, Any] = {"enabled": data.kafka_brokers is not None}
        if data.kafka_brokers is not None:
            kafka.update(
                bootstrapBrokers=data.kafka_brokers,
                port=data.kafka_port,
                cidrs=list(data.subnet_cidrs),
                topic=settings.kafka_topic,
                consumerGroup=settings.kafka_consumer_group,
            )
        postgres: dict[str, Any] = {
            "host": data.postgres_host,
            "port": data.postgres_port,
            "database": data.database,
            "user": data.database_user,
            "cidrs": list(data.subnet_cidrs),
        }
        if data.writer is not None:
            postgres["writer"] = {
                "host": data.writer.host,
                "region": data.writer.region,
                "port": data.writer.port,
                "cidrs": data.writer.cidrs,
            }
        return {
            "global": {
                "environment": args.environment,
                "region": args.cluster.account.region,
                "imageRegistry": args.registry,
                "apiHosts": list(args.api_hosts),
                "ingressClassName": args.ingress_class,
                "ingressNamespace": args.ingress_namespace,
                "monitoringNamespace": args.monitoring_namespace,
                "tracingNamespace": args.tracing_namespace,
                "otlpEndpoint": args.otlp_endpoint,
                "prometheusAddress": PROMETHEUS_URL,
                "sloLatencySeconds": args.slo_latency_seconds,
                "serviceMonitorLabels": {"app.kubernetes.io/part-of": "agent-factory"},
                "clusterSecretStore": args.cluster_secret_store,
                "vpcCidr": args.vpc_cidr,
                "s3EgressCidrs": args.s3_cidrs,
                "llmEgressCidrs": list(settings.llm_egress_cidrs),
                "llmProviderSecrets": [
                    {"name": secret, "remoteKey": arn}
                    for secret, arn in sorted(args.llm_secret_arns.items())
                ],
                "dataStores": {
                    "postgres": postgres,
                    "cache": {
                        "host": data.cache_host,
                        "port": data.cache_port,
                        "cidrs": list(data.subnet_cidrs),
                        "authSecretKey": data.cache_auth_secret_arn,
                    },
                    "kafka": kafka,
                    "artifactsBucket": data.artifacts_bucket,
                },
            },
            "workloads": {
                workload: {
                    "image": {
                        "repository": f"{REPOSITORY_PREFIX}/{workload}",
                        "tag": settings.images[workload].tag,
                        "digest": settings.images[workload].digest,
                    },
                    "serviceAccountName": args.service_accounts[workload],
                    "nodeSelector": dict(args.placements[workload].node_selector),
                    "tolerations": [dict(t) for t in args.placements[workload].tolerations],
                    **(
                        {"autoscaling": {"minReplicas": min_replicas[workload]}}
                        if workload in min_replicas
                        else {}
                    ),
                }
                for workload in WORKLOADS
            },
        }

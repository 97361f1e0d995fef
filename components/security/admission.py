"""Admission: Kyverno in its fenced namespace, its ClusterPolicies and its alerts.

Order (what a real cluster needs): the kyverno namespace (restricted PSA, quota from the
footprint, default-deny network policies) -> the release (CRDs, webhooks; it waits for
kube-prometheus-stack because the chart's ServiceMonitors need the monitoring CRDs) ->
the ClusterPolicies (they need the kyverno.io CRDs) and the PrometheusRule.

Webhooks and failure: the chart's resource webhooks only see the namespaces the policies
enforce (``config.webhooks`` namespaceSelector ``In`` greenlang-* and tenant namespaces),
and the policies fail closed there (``failurePolicy: Fail``): an unsigned image never
runs because Kyverno was down. kube-system, kyverno and the add-ons' namespaces are never
sent to Kyverno, so an outage of Kyverno cannot stop the cluster or the tools that repair
it; docs/runbooks/kyverno-break-glass.md says how to take the webhooks out of the way.

Kyverno reads signatures from ECR with its own IRSA role (read-only on
``repository/agent-factory/*`` of this account and region).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.addons import kyverno
from components.addons.charts import pinned
from components.addons.registry import IrsaSpec, install
from components.context import ClusterContext
from components.k8s.namespaces import FencedNamespace, Ingress, NamespaceSpec
from components.observability.alerts import Alert
from components.security.admission_policies import (
    POLICY_NAMES,
    WEBHOOK_TIMEOUT_SECONDS,
    FailureAction,
    Signer,
    cluster_policies,
)
from components.settings.admission import AdmissionSettings

RULE_GROUP = "agent-factory.kyverno"


def kyverno_alerts() -> list[Alert]:
    """Kyverno's own health: the webhook answers, answers in time, and what it rejects."""
    service = f'namespace="{kyverno.NAMESPACE}",service="{kyverno.METRICS_SERVICE}"'
    return [
        Alert(
            "KyvernoAdmissionDown",
            f"absent(up{{{service}}} == 1)",
            "5m", "critical",
            "No Kyverno admission controller answers",
            "Pods cannot be admitted in the greenlang-* and tenant namespaces (failurePolicy "
            "Fail); other namespaces are not affected.",
        ),
        Alert(
            "KyvernoAdmissionLatencyHigh",
            "histogram_quantile(0.99, sum by (le) "
            "(rate(kyverno_admission_review_duration_seconds_bucket[5m]))) > 5",
            "10m", "warning",
            "Kyverno's p99 admission review takes over 5 s",
            f"The webhook times out at {WEBHOOK_TIMEOUT_SECONDS} s; slow registry or Rekor "
            "calls come first.",
        ),
        Alert(
            "KyvernoPolicyRejections",
            "sum by (policy_name, rule_name) (increase(kyverno_policy_results_total"
            '{rule_result="fail",policy_validation_mode="enforce"}[15m])) > 0',
            "0m", "warning",
            "Kyverno rejected objects under {{ $labels.policy_name }}/{{ $labels.rule_name }}",
            "An unsigned, unpinned or non-restricted workload was refused admission.",
        ),
    ]  # fmt: skip


def policy_document(
    name: str, signer: Signer, action: FailureAction, registry: str
) -> dict[str, Any]:
    """The ClusterPolicy ``name`` for the images of ``registry``."""
    policies = cluster_policies(registry, signer, action)
    return next(p for p in policies if p["metadata"]["name"] == name)


def enforced_namespaces(names: Sequence[str]) -> list[str]:
    """The namespaces of ``names`` the policies enforce: greenlang-* and tenant-*."""
    return sorted(n for n in names if n.startswith(("greenlang-", "tenant-")))


def namespace_spec(platform_replicas: int, vpc_cidr: str) -> NamespaceSpec:
    return NamespaceSpec(
        kyverno.NAMESPACE,
        kyverno.quota(platform_replicas),
        # The API server (control plane ENIs in the VPC) calls the webhook; Prometheus
        # scrapes the metrics.
        ingress=(
            Ingress(from_cidr=vpc_cidr, ports=(kyverno.WEBHOOK_PORT,)),
            Ingress(from_namespace="monitoring"),
        ),
        # The Kubernetes API and the VPC endpoints; Rekor, the Sigstore TUF root and ECR
        # over the internet.
        egress=((vpc_cidr, (443,)),),
        internet_https=True,
    )


@dataclass(frozen=True)
class AdmissionArgs:
    cluster: ClusterContext
    settings: AdmissionSettings
    charts: Mapping[str, str]
    platform_replicas: int
    vpc_cidr: str
    # Every namespace the stack creates (platform and tenants): the webhook sees the
    # greenlang-* and tenant-* ones.
    namespaces: Sequence[str]
    # The project's registry host (<account>.dkr.ecr.<region>.amazonaws.com).
    registry: pulumi.Input[str]
    monitoring_namespace: pulumi.Resource
    # kube-prometheus-stack: the monitoring CRDs the chart's ServiceMonitors need.
    prometheus_release: pulumi.Resource
    # Labels of every object it creates (part-of, managed-by, team, environment).
    labels: Mapping[str, str]


class Admission(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    policies: list[k8s.apiextensions.CustomResource]

    def __init__(
        self, name: str, args: AdmissionArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:Admission", name, None, opts)
        cluster = args.cluster
        on_cluster = pulumi.ResourceOptions(parent=self, provider=cluster.k8s_provider)
        labels = dict(args.labels)
        fence = FencedNamespace(
            f"{name}-ns-{kyverno.NAMESPACE}",
            namespace_spec(args.platform_replicas, args.vpc_cidr),
            labels,
            opts=on_cluster,
        )
        account = cluster.account
        statements = pulumi.Output.all(account.partition, account.account_id).apply(
            lambda v: kyverno.ecr_read_statements(v[0], v[1], account.region)
        )
        replicas = args.platform_replicas
        addon = install(
            self,
            name,
            pinned(kyverno.NAME, args.charts),
            values=kyverno.values(replicas, enforced_namespaces(args.namespaces)),
            footprint=kyverno.footprint(replicas),
            cluster=cluster,
            depends_on=[fence, args.prometheus_release],
            irsa=IrsaSpec(
                kyverno.SERVICE_ACCOUNT,
                statements,
                values_path=kyverno.SERVICE_ACCOUNT_VALUES,
            ),
        )
        self.release = addon.release
        signer = Signer(issuer=args.settings.signer_issuer, subject=args.settings.signer_subject)
        action: FailureAction = "Enforce" if args.settings.enforce else "Audit"
        registry = pulumi.Output.from_input(args.registry)
        self.policies = []
        for policy_name in POLICY_NAMES:
            document = registry.apply(partial(policy_document, policy_name, signer, action))
            self.policies.append(
                k8s.apiextensions.CustomResource(
                    f"{name}-{policy_name}",
                    api_version="kyverno.io/v1",
                    kind="ClusterPolicy",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=policy_name,
                        labels={**labels, "app.kubernetes.io/name": policy_name},
                        annotations=document.apply(lambda d: d["metadata"]["annotations"]),
                    ),
                    spec=document.apply(lambda d: d["spec"]),
                    # The kyverno.io CRDs come with the release.
                    opts=pulumi.ResourceOptions(
                        parent=self, provider=cluster.k8s_provider, depends_on=[self.release]
                    ),
                )
            )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=RULE_GROUP.replace(".", "-"),
                namespace="monitoring",
                labels={**labels, "app.kubernetes.io/name": "kyverno-alerts"},
            ),
            spec={"groups": [{"name": RULE_GROUP, "rules": [a.rule() for a in kyverno_alerts()]}]},
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=cluster.k8s_provider,
                depends_on=[args.monitoring_namespace, args.prometheus_release],
            ),
        )
        self.register_outputs(
            {
                "kyvernoRoleArn": addon.role.arn,
                "clusterPolicies": list(POLICY_NAMES),
            }
        )

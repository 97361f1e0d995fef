"""ArgoCD: the GitOps controller of this cluster and the project the services deliver into.

Argo CD (:mod:`components.addons.argocd`) runs in its own fenced namespace (PSA
restricted, quota from its footprint), signs people in with OIDC (client secret from
Secrets Manager through External Secrets), maps OIDC groups to roles (SRE admin;
developers read, and sync outside prod), notifies Slack and PagerDuty, and is scraped
by one ServiceMonitor. Its UI is an Ingress open to the cluster's access CIDRs only; the
GitHub webhook has an Ingress of its own, open to GitHub's hook ranges on one path.

The AppProject of the stack's environment confines what the services' Applications may
do: one source repository, one destination namespace in this cluster, no cluster-scoped
kinds, only the namespaced kinds the chart renders; in prod, sync windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.addons import argocd
from components.addons.charts import pinned
from components.addons.registry import install
from components.context import ClusterContext
from components.k8s.namespaces import FencedNamespace, Ingress, NamespaceSpec
from components.observability.alerts import Alert
from components.prerequisites import Prerequisite, prerequisites_output
from components.secrets import SecretSpec, out_of_band_secret
from components.security.security import SecretStore
from components.settings import DeliverySettings

IN_CLUSTER = "https://kubernetes.default.svc"
RUNBOOK = "docs/runbooks/argocd-setup.md"
# GitHub's webhook source ranges (api.github.com/meta, "hooks").
GITHUB_HOOK_CIDRS = ("192.30.252.0/22", "185.199.108.0/22", "140.82.112.0/20", "143.55.64.0/20")
WEBHOOK_PATH = "/api/webhook"
# The namespaced kinds charts/agent-factory renders (and the Rollout kinds the progressive
# delivery work adds); anything else in an Application is refused by the project.
CHART_KINDS: tuple[tuple[str, str], ...] = (
    ("", "ConfigMap"),
    ("", "Service"),
    ("apps", "Deployment"),
    ("autoscaling", "HorizontalPodAutoscaler"),
    ("policy", "PodDisruptionBudget"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "Ingress"),
    ("monitoring.coreos.com", "ServiceMonitor"),
    ("external-secrets.io", "ExternalSecret"),
    ("keda.sh", "ScaledObject"),
    ("keda.sh", "TriggerAuthentication"),
    ("autoscaling.k8s.io", "VerticalPodAutoscaler"),
    ("argoproj.io", "Rollout"),
    ("argoproj.io", "AnalysisTemplate"),
)


def delivery_alerts() -> list[Alert]:
    """What Argo CD's own metrics say about the services' delivery."""
    return [
        Alert(
            "ArgoCDAppOutOfSync",
            'max by (name, project) (argocd_app_info{sync_status="OutOfSync"}) == 1',
            "1h", "warning",
            "Application {{ $labels.name }} has been out of sync for an hour",
            "Git and the cluster differ and no sync closed the gap: a sync window, a "
            "failing hook, a manual change or a stuck operation.",
        ),
        Alert(
            "ArgoCDSyncFailed",
            'sum by (name, project) (increase(argocd_app_sync_total{phase=~"Error|Failed"}'
            "[15m])) > 0",
            "0m", "critical",
            "A sync of {{ $labels.name }} failed",
            "The last sync operation ended in Error or Failed: the release in git is not "
            "what runs.",
        ),
        Alert(
            "ArgoCDAppDegraded",
            'max by (name, project) (argocd_app_info{health_status="Degraded"}) == 1',
            "10m", "critical",
            "Application {{ $labels.name }} is Degraded",
            "A resource of the Application reports Degraded health for 10 minutes (a "
            "Deployment that does not progress, an aborted rollout).",
        ),
    ]  # fmt: skip


def app_project(
    environment: str,
    repo_url: str,
    namespace: str,
    windows: Sequence[Mapping[str, str]],
) -> dict[str, object]:
    """The AppProject spec: one repository, one namespace of this cluster, no cluster kinds."""
    spec: dict[str, object] = {
        "description": f"The Agent Factory services in {environment}",
        "sourceRepos": [repo_url],
        "destinations": [{"server": IN_CLUSTER, "namespace": namespace}],
        "clusterResourceWhitelist": [],
        "namespaceResourceWhitelist": [{"group": g, "kind": k} for g, k in CHART_KINDS],
    }
    if windows:
        spec["syncWindows"] = [
            {
                "kind": "allow",
                "schedule": w["schedule"],
                "duration": w["duration"],
                "applications": ["*"],
                "timeZone": "UTC",
                # An SRE may still sync by hand outside a window (a rollback cannot wait).
                "manualSync": True,
            }
            for w in windows
        ]
    return spec


@dataclass(frozen=True)
class ArgoCDArgs:
    cluster: ClusterContext
    settings: DeliverySettings
    charts: Mapping[str, str]
    stack: str
    environment: str
    cluster_name: str
    domain: str
    vpc_cidr: str
    # Who may open the UI: the cluster's public access CIDRs (VPN, CI); empty: the VPC.
    access_cidrs: tuple[str, ...]
    # The namespace the services' Applications deliver into.
    workload_namespace: str
    secrets_key_arn: pulumi.Input[str]
    secret_store: SecretStore
    ingress_class: str
    # Secrets Manager entry (name) holding slack-webhook-url and pagerduty-routing-key.
    alerting_secret: str
    # What monitoring.coreos.com objects and Ingresses wait for.
    prometheus_release: pulumi.Resource
    ingress_release: pulumi.Resource
    protect: bool


class ArgoCD(pulumi.ComponentResource):
    release: k8s.helm.v3.Release
    project: str
    host: str

    def __init__(
        self, name: str, args: ArgoCDArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("agentfactory:platform:ArgoCD", name, None, opts)
        self._name, self._args = name, args
        self._prerequisites: list[Prerequisite] = []
        self._labels = {
            "app.kubernetes.io/part-of": "agent-factory",
            "app.kubernetes.io/managed-by": "pulumi",
            "agent-factory.io/environment": args.environment,
        }
        ha = args.environment != "dev"
        api = ((args.vpc_cidr, (443,)),)
        self._namespace = FencedNamespace(
            f"{name}-ns-{argocd.NAMESPACE}",
            NamespaceSpec(
                argocd.NAMESPACE,
                argocd.quota(ha),
                ingress=(
                    Ingress(from_namespace="ingress-nginx", ports=(argocd.SERVER_PORT,)),
                    Ingress(from_namespace="monitoring"),
                ),
                # The API server, the AWS endpoints; GitHub, the OIDC issuer, Slack and
                # PagerDuty are on the internet (443 only).
                egress=api,
                internet_https=True,
            ),
            self._labels,
            opts=pulumi.ResourceOptions(parent=self, provider=args.cluster.k8s_provider),
        )
        oidc = self._synced_secret(
            "oidc",
            "argocd/oidc",
            ("client-secret",),
            "Argo CD's OIDC client secret",
            target=argocd.OIDC_SECRET,
            # Argo CD resolves $<secret>:<key> only in Secrets labelled part-of: argocd.
            target_labels={"app.kubernetes.io/part-of": "argocd"},
        )
        notify = self._external_secret(
            "notifications",
            argocd.NOTIFICATIONS_SECRET,
            [
                (key, args.alerting_secret, key)
                for key in ("slack-webhook-url", "pagerduty-routing-key")
            ],
        )
        host = argocd_host(args.stack, args.domain)
        self.host = host
        settings = args.settings
        addon = install(
            self,
            name,
            pinned(argocd.CHART, args.charts),
            values=argocd.values(
                ha=ha,
                host=host,
                oidc_issuer=settings.oidc_issuer,
                oidc_client_id=settings.oidc_client_id,
                sre_groups=settings.sre_groups,
                developer_groups=settings.developer_groups,
                environment=args.environment,
            ),
            footprint=argocd.footprint(ha),
            cluster=args.cluster,
            depends_on=[self._namespace, oidc, notify],
        )
        self.release = addon.release
        # The chart creates argocd-secret; the webhook's shared secret is merged into it.
        self._synced_secret(
            "webhook",
            "argocd/github-webhook",
            (argocd.WEBHOOK_KEY,),
            "the GitHub webhook's shared secret (set the same value on the repository's webhook)",
            target=argocd.ARGOCD_SECRET,
            merge=True,
            after=[self.release],
        )
        self._monitor()
        self._ingresses(host)
        self.project = args.environment
        self.project_resource = k8s.apiextensions.CustomResource(
            f"{name}-project-{args.environment}",
            api_version="argoproj.io/v1alpha1",
            kind="AppProject",
            metadata=self._meta(args.environment, argocd.NAMESPACE),
            spec=app_project(
                args.environment,
                settings.repo_url,
                args.workload_namespace,
                [w.model_dump() for w in settings.sync_windows]
                if args.environment == "prod"
                else [],
            ),
            opts=self._in(self.release),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=self._meta("agent-factory-delivery", "monitoring"),
            spec={
                "groups": [
                    {
                        "name": "agent-factory.delivery",
                        "rules": [a.rule() for a in delivery_alerts()],
                    }
                ]
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.cluster.k8s_provider,
                depends_on=[args.prometheus_release],
            ),
        )
        self.register_outputs(
            {
                "host": host,
                "project": self.project,
                **prerequisites_output(self._prerequisites),
            }
        )

    # -- helpers ---------------------------------------------------------------------

    def _in(self, *after: pulumi.Resource) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self,
            provider=self._args.cluster.k8s_provider,
            depends_on=[self._namespace, *after],
        )

    def _meta(
        self,
        name: str,
        namespace: str,
        annotations: Mapping[str, str] | None = None,
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=name,
            namespace=namespace,
            labels={**self._labels, "app.kubernetes.io/name": name},
            annotations=dict(annotations) if annotations else None,
        )

    def _external_secret(
        self,
        name: str,
        target: str,
        data: Sequence[tuple[str, pulumi.Input[str], str]],
        *,
        merge: bool = False,
        target_labels: Mapping[str, str] | None = None,
        after: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        """``target`` in argocd from Secrets Manager: (secret key, entry, property) each."""
        target_spec: dict[str, object] = {
            "name": target,
            # Merge: the Secret belongs to the chart; only these keys are added to it.
            "creationPolicy": "Merge" if merge else "Owner",
        }
        if target_labels:
            target_spec["template"] = {"metadata": {"labels": dict(target_labels)}}
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{name}-sync",
            api_version="external-secrets.io/v1",
            kind="ExternalSecret",
            metadata=self._meta(f"argocd-{name}", argocd.NAMESPACE),
            spec={
                "refreshInterval": "1h",
                "secretStoreRef": {
                    "kind": "ClusterSecretStore",
                    "name": self._args.secret_store.name,
                },
                "target": target_spec,
                "data": [
                    {"secretKey": key, "remoteRef": {"key": entry, "property": prop}}
                    for key, entry, prop in data
                ],
            },
            opts=self._in(self._args.secret_store.resource, *after),
        )

    def _synced_secret(
        self,
        name: str,
        path: str,
        properties: Sequence[str],
        purpose: str,
        *,
        target: str,
        merge: bool = False,
        target_labels: Mapping[str, str] | None = None,
        after: Sequence[pulumi.Resource] = (),
    ) -> k8s.apiextensions.CustomResource:
        """A Secrets Manager entry set out of band (placeholder first, never overwritten)
        and its ExternalSecret into argocd."""
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
        return self._external_secret(
            name,
            target,
            [(key, secret.name, key) for key in properties],
            merge=merge,
            target_labels=target_labels,
            after=[placeholder, *after],
        )

    def _monitor(self) -> None:
        args = self._args
        k8s.apiextensions.CustomResource(
            f"{self._name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._meta(argocd.MONITOR, "monitoring"),
            spec={
                "namespaceSelector": {"matchNames": [argocd.NAMESPACE]},
                "selector": {"matchLabels": dict(argocd.SCRAPE_LABEL)},
                "endpoints": [{"port": argocd.METRICS_PORT_NAME, "interval": "30s"}],
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.cluster.k8s_provider,
                depends_on=[args.prometheus_release, self.release],
            ),
        )

    def _ingresses(self, host: str) -> None:
        """The UI for people on the access CIDRs; the webhook path for GitHub only."""
        args = self._args
        people = ",".join(args.access_cidrs or (args.vpc_cidr,))
        for key, path, path_type, ranges in (
            ("ui", "/", "Prefix", people),
            ("webhook", WEBHOOK_PATH, "Exact", ",".join(GITHUB_HOOK_CIDRS)),
        ):
            k8s.networking.v1.Ingress(
                f"{self._name}-ingress-{key}",
                metadata=self._meta(
                    f"argocd-{key}",
                    argocd.NAMESPACE,
                    {
                        "nginx.ingress.kubernetes.io/whitelist-source-range": ranges,
                        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
                    },
                ),
                spec=k8s.networking.v1.IngressSpecArgs(
                    ingress_class_name=args.ingress_class,
                    tls=[k8s.networking.v1.IngressTLSArgs(hosts=[host])],
                    rules=[
                        k8s.networking.v1.IngressRuleArgs(
                            host=host,
                            http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                                paths=[
                                    k8s.networking.v1.HTTPIngressPathArgs(
                                        path=path,
                                        path_type=path_type,
                                        backend=k8s.networking.v1.IngressBackendArgs(
                                            service=k8s.networking.v1.IngressServiceBackendArgs(
                                                name=argocd.SERVER_SERVICE,
                                                port=k8s.networking.v1.ServiceBackendPortArgs(
                                                    name="http"
                                                ),
                                            )
                                        ),
                                    )
                                ]
                            ),
                        )
                    ],
                ),
                opts=self._in(args.ingress_release, self.release),
            )


def argocd_host(stack: str, domain: str) -> str:
    """One label under the domain (the controller's *.domain certificate covers it)."""
    return f"argocd-{stack}.{domain}"

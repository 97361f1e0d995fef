"""kube-prometheus-stack: Prometheus (retention and encrypted storage from settings),
Alertmanager routes to PagerDuty and Slack, Grafana behind OIDC, kube-state-metrics and
node-exporter. Its CRDs (``monitoring.coreos.com``) are what every monitor and rule waits for.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.addons.scheduling import EVERY_NODE
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import CONTAINER_SECURITY, POD_SECURITY
from components.node_agents import NODE_EXPORTER

NAME = "kube-prometheus-stack"
NAMESPACE = "monitoring"
# The Grafana Service the chart makes (<release>-grafana) and its port name.
GRAFANA_SERVICE = f"{NAME}-grafana"
GRAFANA_PORT = "http-web"
# Prometheus's Service (<fullname>-prometheus, prometheus.service.port): what the analysis
# runs of Argo Rollouts query. The release name contains the chart name, so fullname is it.
PROMETHEUS_SERVICE = f"{NAME}-prometheus"
PROMETHEUS_PORT = 9090
PROMETHEUS_URL = f"http://{PROMETHEUS_SERVICE}.{NAMESPACE}.svc.cluster.local:{PROMETHEUS_PORT}"
# Where Alertmanager mounts the integrations Secret (alertmanagerSpec.secrets).
SECRETS_MOUNT = "/etc/alertmanager/secrets"
GRAFANA_OIDC_MOUNT = "/etc/secrets/grafana-oidc"
# Per-container resources handed to the chart; the footprint reuses them.
PROMETHEUS = Resources("1", "8Gi", "4", "16Gi")
CONFIG_RELOADER = Resources("10m", "32Mi", "100m", "64Mi")
ALERTMANAGER = Resources("50m", "128Mi", "200m", "256Mi")
OPERATOR = Resources("100m", "128Mi", "500m", "512Mi")
GRAFANA = Resources("100m", "256Mi", "1", "1Gi")
GRAFANA_SIDECAR = Resources("20m", "64Mi", "200m", "128Mi")
KUBE_STATE_METRICS = Resources("100m", "256Mi", "500m", "1Gi")
# What the chart scrapes with the monitors it creates from these values: kubelet and
# cAdvisor, kube-state-metrics, node-exporter, the API server, CoreDNS, its own components.
OWN_METRICS = (
    Metrics(("container_", "kubelet_", "machine_", "prober_")),
    Metrics(("kube_",)),
    Metrics(("node_",)),
    Metrics(("apiserver_",)),
    Metrics(("coredns_",)),
    Metrics(("prometheus_", "alertmanager_", "grafana_")),
)


def alertmanager_config(keys_mount: str) -> dict[str, Any]:
    """Critical pages PagerDuty, warnings go to Slack, info to a quiet channel; Watchdog
    (always firing) feeds a dead-man's switch. Keys are files from a Secret at
    ``keys_mount``."""
    return {
        "route": {
            "receiver": "slack-warnings",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                # The switch pages when these stop arriving: Alertmanager or its route
                # to the internet is down.
                {
                    "receiver": "deadmans-switch",
                    "matchers": ['alertname="Watchdog"'],
                    "group_wait": "0s",
                    "group_interval": "1m",
                    "repeat_interval": "1m",
                },
                # The chart's helper alert that mutes info alerts; it is not for people.
                {"receiver": "null", "matchers": ['alertname="InfoInhibitor"']},
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
                {
                    "receiver": "slack-info",
                    "matchers": ['severity="info"'],
                    "repeat_interval": "24h",
                },
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": ["alertname", "namespace"],
            },
            {
                "source_matchers": ['severity="warning"'],
                "target_matchers": ['severity="info"'],
                "equal": ["alertname", "namespace"],
            },
            # The chart's InfoInhibitor fires while a namespace has info alerts and nothing
            # worse: info then stays quiet, as in the chart's own defaults.
            {
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": [
            {"name": "null"},
            {
                "name": "deadmans-switch",
                "webhook_configs": [
                    {"url_file": f"{keys_mount}/deadmans-switch-url", "send_resolved": False}
                ],
            },
            {
                "name": "pagerduty-critical",
                "pagerduty_configs": [
                    {
                        "routing_key_file": f"{keys_mount}/pagerduty-routing-key",
                        "send_resolved": True,
                    }
                ],
            },
            _slack("slack-warnings", "#platform-alerts", keys_mount, send_resolved=True),
            _slack("slack-info", "#platform-info", keys_mount, send_resolved=False),
        ],
    }


def _slack(name: str, channel: str, keys_mount: str, *, send_resolved: bool) -> dict[str, Any]:
    return {
        "name": name,
        "slack_configs": [
            {
                "api_url_file": f"{keys_mount}/slack-webhook-url",
                "channel": channel,
                "send_resolved": send_resolved,
                "title": "{{ .CommonAnnotations.summary }}",
                "text": (
                    "{{ .CommonAnnotations.description }} {{ .CommonAnnotations.runbook_url }}"
                ),
            }
        ],
    }


def grafana_ini(root_url: str, oidc_issuer: str, oidc_client_id: str) -> dict[str, Any]:
    """Single sign-on only: SREs (group agent-factory-sre) are admins, everyone else views."""
    return {
        "server": {"root_url": root_url},
        "auth": {"disable_login_form": True},
        "auth.generic_oauth": {
            "enabled": True,
            "name": "SSO",
            "client_id": oidc_client_id,
            "client_secret": f"$__file{{{GRAFANA_OIDC_MOUNT}/client-secret}}",
            "scopes": "openid profile email groups",
            "auth_url": f"{oidc_issuer}/oauth2/v1/authorize",
            "token_url": f"{oidc_issuer}/oauth2/v1/token",
            "api_url": f"{oidc_issuer}/oauth2/v1/userinfo",
            "role_attribute_path": (
                "contains(groups[*], 'agent-factory-sre') && 'Admin' || 'Viewer'"
            ),
            "allow_sign_up": True,
        },
    }


def alertmanager_replicas(prometheus_replicas: int) -> int:
    return prometheus_replicas + 1 if prometheus_replicas > 1 else 1


def values(
    *,
    replicas: int,
    retention_days: int,
    storage_gib: int,
    storage_class: pulumi.Input[str],
    grafana_url: str,
    oidc_issuer: str,
    oidc_client_id: str,
    admin_secret: str,
    integrations_secret: str,
    oidc_secret: str,
) -> dict[str, Any]:
    """``admin_secret``, ``integrations_secret`` and ``oidc_secret`` name Secrets in the
    namespace: Grafana's admin login, Alertmanager's integration keys, Grafana's OIDC client
    secret (key ``client-secret``)."""
    storage = {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{storage_gib}Gi"}},
            }
        }
    }
    return {
        # EKS runs these on its managed control plane (kube-proxy metrics listen on
        # localhost): scraping them yields only down targets and alerts.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {
            "resources": OPERATOR.values(),
            "prometheusConfigReloader": {"resources": CONFIG_RELOADER.values()},
        },
        "prometheus": {
            "prometheusSpec": {
                "retention": f"{retention_days}d",
                "replicas": replicas,
                "storageSpec": storage,
                # Rules and monitors from every namespace, not only the chart's own.
                "ruleSelectorNilUsesHelmValues": False,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "securityContext": {**POD_SECURITY, "runAsUser": 1000, "fsGroup": 2000},
                "resources": PROMETHEUS.values(),
            }
        },
        "alertmanager": {
            "config": alertmanager_config(f"{SECRETS_MOUNT}/{integrations_secret}"),
            "alertmanagerSpec": {
                "replicas": alertmanager_replicas(replicas),
                "secrets": [integrations_secret],
                "securityContext": {**POD_SECURITY, "runAsUser": 1000, "fsGroup": 2000},
                "resources": ALERTMANAGER.values(),
            },
        },
        "grafana": {
            "admin": {
                "existingSecret": admin_secret,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "grafana.ini": grafana_ini(grafana_url, oidc_issuer, oidc_client_id),
            "extraSecretMounts": [
                {
                    "name": oidc_secret,
                    "secretName": oidc_secret,
                    "mountPath": GRAFANA_OIDC_MOUNT,
                    "readOnly": True,
                }
            ],
            "resources": GRAFANA.values(),
            "sidecar": {
                # Both sidecars (dashboards, datasources) take these.
                "resources": GRAFANA_SIDECAR.values(),
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": NAMESPACE,
                },
            },
            "persistence": {"enabled": False},
            "securityContext": {**POD_SECURITY, "runAsUser": 472, "fsGroup": 472},
            "containerSecurityContext": CONTAINER_SECURITY,
        },
        "kube-state-metrics": {
            "resources": KUBE_STATE_METRICS.values(),
            # kube_node_labels carries no labels unless allowed (cost dashboard).
            "metricLabelsAllowlist": ["nodes=[eks.amazonaws.com/capacityType]"],
        },
        "prometheus-node-exporter": {
            "hostNetwork": True,
            "resources": NODE_EXPORTER.values(),
            "tolerations": EVERY_NODE,
        },
    }


def footprint(replicas: int, scraped: tuple[Metrics, ...] = ()) -> ReleaseFootprint:
    """``scraped``: metrics of other releases scraped by monitors created outside the chart
    but declared here, where the scrape source lives (the preview reads footprints only)."""
    return ReleaseFootprint(
        NAME,
        NAMESPACE,
        workloads=(
            Workload("operator", "Deployment", (OPERATOR,), surge=1),
            # The chart's admission-webhook certificate hooks (no resources set).
            Workload("admission-create", "Job", (None,)),
            Workload("admission-patch", "Job", (None,)),
            Workload("prometheus", "StatefulSet", (PROMETHEUS, CONFIG_RELOADER), replicas),
            Workload(
                "alertmanager",
                "StatefulSet",
                (ALERTMANAGER, CONFIG_RELOADER),
                alertmanager_replicas(replicas),
            ),
            Workload(
                "grafana",
                "Deployment",
                (GRAFANA, GRAFANA_SIDECAR, GRAFANA_SIDECAR),
                surge=1,
            ),
            Workload("kube-state-metrics", "Deployment", (KUBE_STATE_METRICS,), surge=1),
            Workload("node-exporter", "DaemonSet", (NODE_EXPORTER,)),
        ),
        services=tuple(
            Service(name, "ClusterIP")
            for name in (
                "operator",
                "prometheus",
                "alertmanager",
                "grafana",
                "kube-state-metrics",
                "node-exporter",
            )
        ),
        crds=("monitoring.coreos.com",),
        metrics=(*OWN_METRICS, *scraped),
    )

"""Argo CD: delivers the Agent Factory services' chart from git (docs/delivery.md).

Chart ``argo-cd`` of argoproj/argo-helm at 9.4.17 (app v3.3.6; the version is seen
deployed as ``argo-cd-9.4.17 / v3.3.6``). Keys checked against the chart's values and
templates: ``global.domain``, ``crds.install``/``crds.keep``, ``dex.enabled``,
``redis-ha.enabled`` (the HA example of the chart's README: redis-ha with HAProxy, and
the in-chart ``redis`` off), ``controller.replicas``, ``server.replicas``,
``repoServer.replicas``, ``applicationSet.replicaCount``, ``configs.cm`` (``url``,
``oidc.config`` with ``$<secret>:<key>`` references, ``admin.enabled``, ``exec.enabled``),
``configs.params`` (``server.insecure``: TLS ends at ingress-nginx),
``configs.rbac`` (``policy.csv``, ``policy.default``, ``scopes``),
``configs.secret.createSecret``, ``notifications.{enabled, notifiers, templates,
triggers, secret.create}``, ``<component>.metrics.{enabled, service.labels,
service.portName}`` (the metrics Services carry ``metrics.service.labels``; see the
controller's ``metrics.yaml``), ``<component>.resources`` and ``global.nodeSelector`` /
``global.tolerations``. The redis-ha subchart (DandyDeveloper/charts) is placed by its own
``nodeSelector``/``tolerations`` and ``haproxy.nodeSelector``/``haproxy.tolerations``
(seen in its HAProxy template); its ``replicas``, ``redis.resources``,
``sentinel.resources``, ``haproxy.{replicas,resources}`` and ``exporter.enabled`` follow
its README and were not read in its templates.

One Argo CD per cluster, managing only its own cluster (``in-cluster``): no cluster
credentials cross stacks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from components.addons.keda import quota_for
from components.addons.scheduling import SYSTEM_PLACEMENT
from components.footprint import Metrics, ReleaseFootprint, Resources, Service, Workload
from components.k8s.namespaces import Quota

CHART = "argo-cd"
NAME = "argocd"
NAMESPACE = "argocd"
# The Service argocd-server (server.service.servicePortHttp) and its container port:
# server.insecure serves plain HTTP behind the ingress controller.
SERVER_SERVICE = "argocd-server"
SERVER_PORT = 8080
# The repo server (git and helm) and the controller talk to each other and to redis.
REPO_SERVER_PORT = 8081
REDIS_PORT = 6379
# Every metrics Service gets this label and port name; one ServiceMonitor selects them.
SCRAPE_LABEL = {"agent-factory.io/scrape": "argocd"}
METRICS_PORT_NAME = "http-metrics"
METRIC_PREFIXES = ("argocd_",)
MONITOR = "argocd"
# Secrets the components read: the OIDC client secret (referenced from argocd-cm as
# $argocd-oidc:client-secret; Argo CD only reads Secrets labelled part-of: argocd) and
# the notification services' keys (the secret the notifications controller reads).
OIDC_SECRET = "argocd-oidc"
NOTIFICATIONS_SECRET = "argocd-notifications-secret"
# argocd-secret, created by the chart: the GitHub webhook's shared secret is merged into it.
ARGOCD_SECRET = "argocd-secret"
WEBHOOK_KEY = "webhook.github.secret"
COMPONENTS_WITH_METRICS = (
    "controller",
    "server",
    "repoServer",
    "applicationSet",
    "notifications",
)

CONTROLLER = Resources("500m", "1Gi", "2", "2Gi")
SERVER = Resources("100m", "256Mi", "500m", "512Mi")
REPO_SERVER = Resources("250m", "512Mi", "1", "1Gi")
APPLICATION_SET = Resources("100m", "128Mi", "500m", "512Mi")
NOTIFICATIONS = Resources("50m", "64Mi", "200m", "256Mi")
REDIS = Resources("100m", "256Mi", "500m", "512Mi")
SENTINEL = Resources("50m", "64Mi", "200m", "128Mi")
HAPROXY = Resources("100m", "128Mi", "500m", "256Mi")
MAX_CONTAINER = ("2", "2Gi")
# redis-ha runs a quorum of three, each on its own node (the chart's README: HA needs at
# least three nodes).
REDIS_HA_REPLICAS = 3


def replicas(ha: bool) -> int:
    """Replicas of the stateless servers: two in HA (one may go during a drain)."""
    return 2 if ha else 1


def rbac_policy(sre_groups: Sequence[str], developer_groups: Sequence[str], prod: bool) -> str:
    """Argo CD's policy.csv: SREs are admins; developers read everything and, outside prod,
    may sync (never delete, never exec). Anyone else logged in sees nothing
    (``policy.default`` is empty)."""
    lines = [f"g, {group}, role:admin" for group in sre_groups]
    lines.append("p, role:developer, applications, get, */*, allow")
    lines.append("p, role:developer, projects, get, *, allow")
    lines.append("p, role:developer, logs, get, */*, allow")
    if not prod:
        lines.append("p, role:developer, applications, sync, */*, allow")
    lines.extend(f"g, {group}, role:developer" for group in developer_groups)
    return "\n".join(lines) + "\n"


def oidc_config(issuer: str, client_id: str) -> str:
    return (
        "name: SSO\n"
        f"issuer: {issuer}\n"
        f"clientID: {client_id}\n"
        f"clientSecret: ${OIDC_SECRET}:client-secret\n"
        "requestedScopes: [openid, profile, email, groups]\n"
        "requestedIDTokenClaims: {groups: {essential: true}}\n"
    )


# -- notifications ------------------------------------------------------------------

# Notification triggers (argocd-notifications-cm, trigger.<name>): when an operation
# fails, when health turns Degraded, and when a rollback is synced (to Argo CD a rollback
# by git revert is a sync like any other: the rollback runbook marks it with the
# annotation below, which the ApplicationSet preserves).
TRIGGERS = {
    "on-sync-failed": (
        "app.status.operationState != nil and app.status.operationState.phase in "
        "['Error', 'Failed']",
        "app-sync-failed",
    ),
    "on-health-degraded": ("app.status.health.status == 'Degraded'", "app-health-degraded"),
    "on-rollback": (
        "app.status.operationState != nil and app.status.operationState.phase == "
        "'Succeeded' and app.metadata.annotations['agent-factory.io/rollback-to'] != nil",
        "app-rolled-back",
    ),
}


def notifications(environment: str) -> dict[str, Any]:
    """Slack (the incoming webhook of the alerting secret) for every trigger, PagerDuty
    (Events v2, the same routing key as Alertmanager) for failures and degradation."""
    templates = {}
    triggers = {}
    for trigger, (condition, template) in TRIGGERS.items():
        title = trigger.removeprefix("on-").replace("-", " ")
        # The Slack body is JSON written here: only fields that cannot hold a quote (names,
        # revisions) go into it; the operation's message goes to PagerDuty, which encodes.
        short = (
            f"[{environment}] {{{{.app.metadata.name}}}}: {title} "
            "({{.app.status.sync.revision}})"
        )
        body: dict[str, Any] = {
            "webhook": {"slack": {"method": "POST", "body": json.dumps({"text": short})}}
        }
        if trigger != "on-rollback":
            body["pagerdutyv2"] = {
                "summary": f"{short}: {{{{.app.status.operationState.message}}}}",
                "severity": "critical" if environment == "prod" else "warning",
                "source": "{{.app.metadata.name}}",
            }
        templates[f"template.{template}"] = body
        triggers[f"trigger.{trigger}"] = [
            {"when": condition, "send": [template], "oncePer": "app.status.sync.revision"}
        ]
    return {
        "enabled": True,
        # The secret comes from Secrets Manager through External Secrets.
        "secret": {"create": False},
        "notifiers": {
            "service.webhook.slack": _yaml(
                {
                    "url": "$slack-webhook-url",
                    "headers": [{"name": "Content-Type", "value": "application/json"}],
                }
            ),
            "service.pagerdutyv2": "serviceKeys:\n  agent-factory: $pagerduty-routing-key\n",
        },
        "templates": {key: _yaml(value) for key, value in templates.items()},
        "triggers": {key: _yaml(value) for key, value in triggers.items()},
        # Every Application of the platform subscribes to every trigger.
        "subscriptions": [
            {
                "recipients": ["slack", "pagerdutyv2:agent-factory"],
                "triggers": list(TRIGGERS),
            }
        ],
        "resources": NOTIFICATIONS.values(),
    }


def _yaml(value: Any) -> str:
    return str(yaml.safe_dump(value, sort_keys=False))


# -- values, footprint, quota ------------------------------------------------------


def values(
    *,
    ha: bool,
    host: str,
    oidc_issuer: str,
    oidc_client_id: str,
    sre_groups: Sequence[str],
    developer_groups: Sequence[str],
    environment: str,
) -> dict[str, Any]:
    count = replicas(ha)
    metrics = {
        "enabled": True,
        "service": {"labels": SCRAPE_LABEL, "portName": METRICS_PORT_NAME},
    }
    budget = {"enabled": count >= 2, "minAvailable": 1}
    return {
        "global": {"domain": host, **SYSTEM_PLACEMENT},
        "crds": {"install": True, "keep": True},
        "dex": {"enabled": False},
        # The chart renders its single redis only while redis-ha is off.
        "redis": {"enabled": True, "resources": REDIS.values()},
        "redis-ha": {
            "enabled": ha,
            "replicas": REDIS_HA_REPLICAS,
            "redis": {"resources": REDIS.values()},
            "sentinel": {"resources": SENTINEL.values()},
            "haproxy": {
                "replicas": REDIS_HA_REPLICAS,
                "resources": HAPROXY.values(),
                **SYSTEM_PLACEMENT,
            },
            "exporter": {"enabled": False},
            **SYSTEM_PLACEMENT,
        },
        "controller": {
            "replicas": 1,
            "metrics": metrics,
            "resources": CONTROLLER.values(),
        },
        "server": {
            "replicas": count,
            "metrics": metrics,
            "resources": SERVER.values(),
            "pdb": budget,
            # The Ingress is the platform's own (components/delivery/argocd.py): one for
            # people, one for GitHub's webhook, each with its own source ranges.
            "ingress": {"enabled": False},
        },
        "repoServer": {
            "replicas": count,
            "metrics": metrics,
            "resources": REPO_SERVER.values(),
            "pdb": budget,
        },
        "applicationSet": {
            "replicaCount": count,
            "metrics": metrics,
            "resources": APPLICATION_SET.values(),
            "pdb": budget,
        },
        "notifications": {**notifications(environment), "metrics": metrics},
        "configs": {
            "params": {"server.insecure": True},
            "cm": {
                "url": f"https://{host}",
                "admin.enabled": False,
                "exec.enabled": False,
                # Argo CD 3's default, said explicitly: each Application owns its objects by
                # the argocd.argoproj.io/tracking-id annotation (its own name), so the
                # per-workload Applications never touch the chart's app.kubernetes.io/instance
                # label, which every selector and NetworkPolicy peer uses (docs/delivery.md).
                "application.resourceTrackingMethod": "annotation",
                "oidc.config": oidc_config(oidc_issuer, oidc_client_id),
            },
            "rbac": {
                "policy.default": "",
                "policy.csv": rbac_policy(sre_groups, developer_groups, environment == "prod"),
                "scopes": "[groups]",
            },
            "secret": {"createSecret": True},
        },
    }


def footprint(ha: bool) -> ReleaseFootprint:
    count = replicas(ha)
    workloads = [
        Workload("application-controller", "StatefulSet", (CONTROLLER,), replicas=1),
        Workload.deployment("server", SERVER, replicas=count),
        Workload.deployment("repo-server", REPO_SERVER, replicas=count),
        Workload.deployment("applicationset-controller", APPLICATION_SET, replicas=count),
        Workload.deployment("notifications-controller", NOTIFICATIONS, replicas=1),
    ]
    if ha:
        workloads += [
            Workload("redis-ha-server", "StatefulSet", (REDIS, SENTINEL), replicas=3),
            Workload.deployment("redis-ha-haproxy", HAPROXY, replicas=REDIS_HA_REPLICAS),
        ]
    else:
        workloads.append(Workload.deployment("redis", REDIS, replicas=1))
    return ReleaseFootprint(
        release=NAME,
        namespace=NAMESPACE,
        workloads=tuple(workloads),
        services=(Service(SERVER_SERVICE, "ClusterIP", ports=2),),
        # The chart's CRDs (crds.install); Argo Rollouts' share the group.
        crds=tuple(
            f"argoproj.io/{kind}" for kind in ("Application", "ApplicationSet", "AppProject")
        ),
        metrics=(Metrics(METRIC_PREFIXES, via=f"ServiceMonitor/monitoring/{MONITOR}"),),
    )


def quota(ha: bool) -> Quota:
    return quota_for(footprint(ha), MAX_CONTAINER)

"""Alert rules as data: the seed's eight, SLO burn-rate alerts, backup alerts.

Each alert names a runbook in ``docs/runbooks/``; tests check that the file exists, that
every expression parses as PromQL, and that severity, summary and description are set.
Every metric a rule reads must have a scrape source in the plan (the preview's ``scrape``
check): the ingress and certificate alerts read what Observability's ServiceMonitors
scrape; the backup alerts read Velero's own metrics (``velero_backup_failure_total``,
``velero_backup_last_successful_timestamp``, labelled by schedule), scraped by its
PodMonitor, so they exist only where the stack installs Velero
(``alert_groups(..., backups=True)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from components.addons.velero import SCHEDULE as VELERO_SCHEDULE

RUNBOOK_BASE = "https://github.com/agent-factory/platform/blob/main/docs/runbooks"
INGRESS = "nginx_ingress_controller_requests"
DURATION = "nginx_ingress_controller_request_duration_seconds"
DISK = 'fstype!~"tmpfs|overlay|squashfs"'
# (long window, short window, burn rate, severity): the multiwindow, multi-burn-rate pairs
# from the Google SRE workbook. 14.4x burns 2 % of a 30-day budget in an hour: page.
BURN_WINDOWS = (("1h", "5m", 14.4, "critical"), ("6h", "30m", 6.0, "warning"))


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str

    @property
    def runbook(self) -> str:
        """HighPodCPU -> high-pod-cpu; the page and ticket alerts of one SLO share a runbook."""
        slug = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", self.name).lower()
        return re.sub(r"-(page|ticket)$", "", slug)

    def rule(self) -> dict[str, object]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{RUNBOOK_BASE}/{self.runbook}.md",
            },
        }


@dataclass(frozen=True)
class SloTargets:
    availability: float
    latency_seconds: float
    latency_objective: float
    error_rate: float


def seed_alerts(latency_seconds: float) -> list[Alert]:
    """The seed's alerts; HighLatency fires above the SLO latency, not a number of its own."""
    ms = f"{latency_seconds * 1000:g}"
    return [
        Alert(
            "HighPodCPU",
            'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=""}[5m]))'
            ' / sum by (namespace, pod) (kube_pod_container_resource_limits{resource="cpu"})'
            " > 0.8",
            "5m", "warning",
            "Pod {{ $labels.namespace }}/{{ $labels.pod }} uses over 80% of its CPU limit",
            "CPU above 80% of the limit for 5 minutes: throttling is near.",
        ),
        Alert(
            "HighPodMemory",
            'sum by (namespace, pod) (container_memory_working_set_bytes{container!=""})'
            ' / sum by (namespace, pod) (kube_pod_container_resource_limits{resource="memory"})'
            " > 0.9",
            "5m", "warning",
            "Pod {{ $labels.namespace }}/{{ $labels.pod }} uses over 90% of its memory limit",
            "Working set above 90% of the limit for 5 minutes: an OOM kill is near.",
        ),
        Alert(
            "PodCrashLooping",
            "increase(kube_pod_container_status_restarts_total[10m]) > 3",
            "1m", "critical",
            "Container {{ $labels.container }} in {{ $labels.namespace }}/{{ $labels.pod }} "
            "restarted more than 3 times in 10 minutes",
            "The container is crash looping.",
        ),
        Alert(
            "HighErrorRate",
            f'sum(rate({INGRESS}{{status=~"5.."}}[5m])) / sum(rate({INGRESS}[5m])) > 0.01',
            "5m", "critical",
            "More than 1% of requests fail with 5xx",
            "The 5xx ratio at the ingress has been above 1% for 5 minutes.",
        ),
        Alert(
            "HighLatency",
            f"histogram_quantile(0.95, sum by (le) (rate({DURATION}_bucket[5m])))"
            f" > {latency_seconds:g}",
            "5m", "warning",
            f"p95 latency at the ingress is above {ms} ms",
            f"The 95th percentile request duration has been above {ms} ms (the SLO latency) "
            "for 5 minutes.",
        ),
        Alert(
            "NodeNotReady",
            'kube_node_status_condition{condition="Ready",status="true"} == 0',
            "2m", "critical",
            "Node {{ $labels.node }} is not Ready",
            "The kubelet has not reported Ready for 2 minutes.",
        ),
        Alert(
            "DiskPressure",
            f"(1 - node_filesystem_avail_bytes{{{DISK}}} / node_filesystem_size_bytes{{{DISK}}})"
            " > 0.85",
            "10m", "warning",
            "Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is over 85% full",
            "Filesystem usage above 85% for 10 minutes; the kubelet evicts pods at 90%.",
        ),
        Alert(
            "CertificateExpiringSoon",
            "certmanager_certificate_expiration_timestamp_seconds - time() < 30 * 86400",
            "1h", "warning",
            "Certificate {{ $labels.namespace }}/{{ $labels.name }} expires in under 30 days",
            "cert-manager renews 30 days before expiry; renewal is failing.",
        ),
    ]  # fmt: skip


def _ratio(bad: str, total: str, window: str) -> str:
    return f"(sum(rate({bad}[{window}])) / sum(rate({total}[{window}])))"


def slo_alerts(targets: SloTargets) -> list[Alert]:
    le = f"{targets.latency_seconds:g}"
    slis = {
        "Availability": (
            f'{INGRESS}{{status=~"5.."}}', INGRESS, 1 - targets.availability / 100,
            f"availability below {targets.availability}%",
        ),
        "Latency": (
            None, None, 1 - targets.latency_objective / 100,
            f"fewer than {targets.latency_objective}% of requests under {le}s",
        ),
        "ErrorRate": (
            f'{INGRESS}{{status=~"5..|429"}}', INGRESS, targets.error_rate / 100,
            f"error rate above {targets.error_rate}%",
        ),
    }  # fmt: skip
    alerts = []
    for sli, (bad, total, budget, objective) in slis.items():
        for long, short, burn, severity in BURN_WINDOWS:

            def ratio(window: str, bad: str | None = bad, total: str | None = total) -> str:
                if bad is None or total is None:
                    fast = f'sum(rate({DURATION}_bucket{{le="{le}"}}[{window}]))'
                    return f"(1 - {fast} / sum(rate({DURATION}_count[{window}])))"
                return _ratio(bad, total, window)

            threshold = f"{burn * budget:.6g}"
            alerts.append(
                Alert(
                    f"SLO{sli}BurnRate{'Page' if severity == 'critical' else 'Ticket'}",
                    f"{ratio(long)} > {threshold} and {ratio(short)} > {threshold}",
                    "2m" if severity == "critical" else "15m",
                    severity,
                    f"{sli} SLO budget burning {burn:g}x too fast ({objective})",
                    f"Over {long} and {short} the bad-request ratio exceeds {burn:g} times the "
                    "error budget: at this rate the 30-day budget is gone early.",
                )
            )
    return alerts


def backup_alerts() -> list[Alert]:
    """Velero's backup alerts: only for a stack that installs Velero (``backups=True``).
    BackupMissing also fires when the schedule's timestamp is absent (Velero down or not
    scraped): no series is no backup."""
    last = f'velero_backup_last_successful_timestamp{{schedule="{VELERO_SCHEDULE}"}}'
    return [
        Alert(
            "BackupFailed",
            "increase(velero_backup_failure_total[1h]) > 0",
            "0m", "critical",
            "A Velero backup failed in the last hour",
            "Kubernetes state backups (every 6 hours) are failing.",
        ),
        Alert(
            "BackupMissing",
            f"(time() - max({last}) > 7 * 3600) or absent({last})",
            "15m", "critical",
            "No successful Velero backup for more than 7 hours",
            f"The 6-hourly schedule {VELERO_SCHEDULE} has missed a run: the RPO is at risk.",
        ),
    ]  # fmt: skip


# The Probe of the other regions' health endpoints (Observability): its job label.
PEER_PROBE_JOB = "peer-regions"


def region_alerts() -> list[Alert]:
    """A dead region cannot page about itself: the regions that survive it do."""
    return [
        Alert(
            "RegionUnreachable",
            f'max by (instance) (probe_success{{job="{PEER_PROBE_JOB}"}}) == 0',
            "3m", "critical",
            "{{ $labels.instance }} fails its health check from this region",
            "Another region's API health endpoint has failed every probe for 3 minutes; "
            "Route 53 has most likely taken that region out of api.greenlang.ai.",
        ),
    ]  # fmt: skip


def rollout_alerts() -> list[Alert]:
    """Argo Rollouts marks a Rollout Degraded when it aborts (an analysis failed, or the
    progress deadline passed) and has gone back to the stable pods: the release did not
    ship, and someone must look before the next one. The controller's own ``namespace``
    label becomes ``exported_namespace`` (scraped without honorLabels)."""
    return [
        Alert(
            "RolloutAborted",
            'max by (exported_namespace, name) (rollout_info{phase="Degraded"}) == 1',
            "1m", "warning",
            "Rollout {{ $labels.exported_namespace }}/{{ $labels.name }} was aborted",
            "The Rollout is Degraded: its analysis failed or it missed its progress deadline, "
            "and Argo Rollouts sent traffic back to the stable version.",
        ),
    ]  # fmt: skip


def alert_groups(
    targets: SloTargets, *, peer_regions: bool = False, backups: bool = False
) -> dict[str, list[Alert]]:
    groups = {
        "agent-factory.seed": seed_alerts(targets.latency_seconds),
        "agent-factory.slo": slo_alerts(targets),
        "agent-factory.rollouts": rollout_alerts(),
    }
    if backups:
        groups["agent-factory.backups"] = backup_alerts()
    if peer_regions:
        groups["agent-factory.regions"] = region_alerts()
    return groups

"""The one chart table: every Helm chart the platform installs, with its repository and pin.

Upgrading a chart is one line here (or ``agent-factory:charts`` in a stack file to try a
version in one stack first). Each pin is a version shown to exist upstream; the evidence
sits with the add-on's tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str
    version: str


def _table(*charts: Chart) -> dict[str, Chart]:
    return {chart.name: chart for chart in charts}


CHARTS = _table(
    Chart("cluster-autoscaler", "https://kubernetes.github.io/autoscaler", "9.54.0"),
    # The trailing slash is how the release was first deployed: repositoryOpts is compared
    # verbatim, so dropping it would be an update for nothing.
    Chart("metrics-server", "https://kubernetes-sigs.github.io/metrics-server/", "3.13.1"),
    # Retired upstream (last releases March 2026); see docs/architecture.md.
    Chart("ingress-nginx", "https://kubernetes.github.io/ingress-nginx", "4.14.1"),
    # v1.21.2 was never released.
    Chart("cert-manager", "https://charts.jetstack.io", "v1.21.1"),
    Chart("external-secrets", "https://charts.external-secrets.io", "2.10.0"),
    Chart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts", "79.5.0"),
    Chart(
        "prometheus-blackbox-exporter",
        "https://prometheus-community.github.io/helm-charts",
        "11.17.2",
    ),
    Chart("fluent-bit", "https://fluent.github.io/helm-charts", "0.54.0"),
    Chart(
        "opentelemetry-collector",
        "https://open-telemetry.github.io/opentelemetry-helm-charts",
        "0.140.0",
    ),
    Chart("tempo", "https://grafana.github.io/helm-charts", "1.24.0"),
    # KEDA 2.20 is tested on Kubernetes 1.33-1.35 (keda.sh/docs/2.21/operate/cluster).
    Chart("keda", "https://kedacore.github.io/charts", "2.20.1"),
    # 3.7.2 (app v1.17.2): Kyverno 1.17 supports Kubernetes 1.32-1.35.
    Chart("kyverno", "https://kyverno.github.io/kyverno/", "3.7.2"),
    # 0.32.1 (app 0.30.1).
    Chart("trivy-operator", "https://aquasecurity.github.io/helm-charts/", "0.32.1"),
    # 0.12.0 (app 1.7.1): the first chart whose CRDs are templates (crds.enabled).
    Chart("vertical-pod-autoscaler", "https://kubernetes.github.io/autoscaler", "0.12.0"),
    # 2.1.5 (app 1.115.0): the version whose values table components/addons/opencost.py checks.
    Chart("opencost", "https://opencost.github.io/opencost-helm-chart", "2.1.5"),
    # 2.40.5 (app v1.8.3); see components/addons/argo_rollouts.py.
    Chart("argo-rollouts", "https://argoproj.github.io/argo-helm", "2.40.5"),
    # 11.3.2 (app 1.17): CSI snapshot support is built in (since Velero 1.14).
    Chart("velero", "https://vmware-tanzu.github.io/helm-charts", "11.3.2"),
    # 9.4.17 (app v3.3.6): see components/addons/argocd.py for what was checked.
    Chart("argo-cd", "https://argoproj.github.io/argo-helm", "9.4.17"),
)


def pinned(name: str, overrides: Mapping[str, str]) -> Chart:
    """The chart ``name`` at the stack's override, or at the table's pin."""
    chart = CHARTS[name]
    version = overrides.get(name, chart.version)
    return Chart(chart.name, chart.repo, version)

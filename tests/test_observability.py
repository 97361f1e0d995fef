"""Observability under mocks: charts, alert rules and runbooks, dashboards, logs, traces."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import promql_parser
import pytest

from components.observability import dashboard_files
from tests.conftest import by_name
from tools.synth import ROOT, Plan

RELEASE = "kubernetes:helm.sh/v3:Release"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
RUNBOOKS = ROOT / "docs" / "runbooks"


def release(plan: Plan, name: str) -> dict[str, object]:
    return by_name(plan, RELEASE)[f"{plan.stack}-observability-{name}"].inputs


def test_prometheus_retention_storage_and_routes(plan_of: Callable[[str], Plan]) -> None:
    chart = release(plan_of("prod"), "kube-prometheus-stack")
    assert chart["version"] == "79.5.0"
    assert chart["namespace"] == "monitoring"
    values = chart["values"]
    spec = values["prometheus"]["prometheusSpec"]  # type: ignore[index]
    assert spec["retention"] == "30d"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    assert claim["storageClassName"] == "gp3-encrypted"
    routes = values["alertmanager"]["config"]["route"]["routes"]  # type: ignore[index]
    assert routes[0]["receiver"] == "pagerduty-critical"
    assert routes[0]["matchers"] == ['severity="critical"']
    assert routes[0]["repeat_interval"] == "15m"
    receivers = {r["name"]: r for r in values["alertmanager"]["config"]["receivers"]}  # type: ignore[index]
    # Keys are files mounted from a Secret: nothing sensitive in the values.
    assert "routing_key_file" in receivers["pagerduty-critical"]["pagerduty_configs"][0]
    assert "api_url_file" in receivers["slack-warnings"]["slack_configs"][0]
    grafana = values["grafana"]  # type: ignore[index]
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert grafana["grafana.ini"]["auth.generic_oauth"]["enabled"] is True


def _rules(plan: Plan) -> list[dict[str, object]]:
    return [
        rule
        for resource in plan.by_type(RULE)
        for group in resource.inputs["spec"]["groups"]
        for rule in group["rules"]
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_alert_parses_and_has_a_runbook(plan_of: Callable[[str], Plan], stack: str) -> None:
    rules = _rules(plan_of(stack))
    names = {r["alert"] for r in rules}
    assert {
        "HighPodCPU",
        "HighPodMemory",
        "PodCrashLooping",
        "HighErrorRate",
        "HighLatency",
        "NodeNotReady",
        "DiskPressure",
        "CertificateExpiringSoon",
        "BackupFailed",
    } <= names
    assert len([n for n in names if str(n).startswith("SLO")]) == 6
    for rule in rules:
        promql_parser.parse(str(rule["expr"]))
        assert rule["for"]
        assert rule["labels"]["severity"] in ("critical", "warning")  # type: ignore[index]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"]  # type: ignore[index]
        runbook = Path(str(annotations["runbook_url"])).name  # type: ignore[index]
        text = (RUNBOOKS / runbook).read_text()
        assert "## Check" in text and "## Act" in text


def test_seed_alert_thresholds(plan_of: Callable[[str], Plan]) -> None:
    rules = {r["alert"]: r for r in _rules(plan_of("prod"))}
    assert rules["HighPodCPU"]["for"] == "5m" and str(rules["HighPodCPU"]["expr"]).endswith("> 0.8")
    assert rules["NodeNotReady"]["for"] == "2m"
    assert rules["DiskPressure"]["for"] == "10m"
    assert "> 3" in str(rules["PodCrashLooping"]["expr"])
    assert "30 * 86400" in str(rules["CertificateExpiringSoon"]["expr"])


def test_slo_thresholds_follow_the_environment(plan_of: Callable[[str], Plan]) -> None:
    def page(stack: str) -> str:
        rules = {r["alert"]: r for r in _rules(plan_of(stack))}
        return str(rules["SLOAvailabilityBurnRatePage"]["expr"])

    # 14.4 x (1 - target): prod 99.9 % -> 0.0144, dev 99.0 % -> 0.144
    assert page("prod").endswith("> 0.0144")
    assert page("dev").endswith("> 0.144")
    assert "[1h]" in page("prod") and "[5m]" in page("prod")


def test_dashboards_are_valid_and_all_loaded(plan_of: Callable[[str], Plan]) -> None:
    boards = dashboard_files()
    assert len(boards) >= 6
    assert {
        "agent-factory-overview",
        "cluster-health",
        "agent-runtime-performance",
        "cost-tracking",
        "security-monitoring",
        "slo-error-budget",
    } <= set(boards)
    uids = set()
    for uid, board in boards.items():
        assert board["uid"] == uid and board["title"]
        uids.add(board["uid"])
        for panel in board["panels"]:
            for target in panel["targets"]:
                # Template variables are substituted by Grafana before the query runs.
                promql_parser.parse(target["expr"].replace("$slo_availability", "99.9"))
    maps = [
        r
        for r in plan_of("prod").by_type("kubernetes:core/v1:ConfigMap")
        if r.inputs["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    loaded = {json.loads(next(iter(m.inputs["data"].values())))["uid"] for m in maps}
    assert loaded == uids


@pytest.mark.parametrize(("stack", "percent"), [("dev", 10), ("staging", 5), ("prod", 1)])
def test_trace_sampling_per_environment(
    plan_of: Callable[[str], Plan], stack: str, percent: float
) -> None:
    values = release(plan_of(stack), "otel-collector")["values"]
    sampler = values["config"]["processors"]["probabilistic_sampler"]  # type: ignore[index]
    assert sampler["sampling_percentage"] == percent


def test_opensearch_is_encrypted_private_and_fine_grained(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (domain,) = plan.by_type("aws:opensearch/domain:Domain")
    inputs = domain.inputs
    assert inputs["clusterConfig"]["instanceCount"] == 3
    assert inputs["ebsOptions"]["volumeSize"] == 500
    assert inputs["encryptAtRest"]["enabled"] is True
    assert inputs["nodeToNodeEncryption"]["enabled"] is True
    assert inputs["domainEndpointOptions"]["enforceHttps"] is True
    assert inputs["advancedSecurityOptions"]["enabled"] is True
    assert len(inputs["vpcOptions"]["subnetIds"]) == 3
    assert domain.protect
    (dev_domain,) = plan_of("dev").by_type("aws:opensearch/domain:Domain")
    assert dev_domain.inputs["clusterConfig"]["instanceCount"] == 1


def test_data_store_alarms_go_to_an_encrypted_topic(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (topic,) = plan.by_type("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"]
    alarms = plan.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    metrics = [a.inputs["metricName"] for a in alarms]
    # primary 3 + 3 replicas x 4 (with lag); 6 cache nodes x 3
    assert metrics.count("ReplicaLag") == 3
    assert metrics.count("Evictions") == 6
    assert len(alarms) == 3 + 3 * 4 + 6 * 3
    nodes = {a.inputs["dimensions"].get("CacheClusterId") for a in alarms} - {None}
    assert "agent-factory-prod-cache-0003-002" in nodes


def test_alerting_and_sso_secrets_come_from_secrets_manager(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    secrets = by_name(plan, "aws:secretsmanager/secret:Secret")
    for name, path in (
        ("alertmanager-integrations", "alerting/integrations"),
        ("grafana-oidc", "grafana/oidc"),
    ):
        secret = secrets[f"prod-observability-{name}"]
        assert secret.inputs["name"] == f"agent-factory-prod/{path}"
        sync = by_name(plan, "kubernetes:external-secrets.io/v1:ExternalSecret")[
            f"prod-observability-{name}-sync"
        ]
        assert sync.inputs["spec"]["target"] == {"name": name}
        refs = {d["remoteRef"]["key"] for d in sync.inputs["spec"]["data"]}
        assert refs == {f"agent-factory-prod/{path}"}
    # No value in code: neither entry has a SecretVersion.
    versions = plan.by_type("aws:secretsmanager/secretVersion:SecretVersion")
    assert all("observability" not in v.name for v in versions)


def test_opensearch_admits_only_the_log_shipper(plan_of: Callable[[str], Plan]) -> None:
    plan = plan_of("prod")
    (domain,) = plan.by_type("aws:opensearch/domain:Domain")
    (statement,) = json.loads(domain.inputs["accessPolicies"])["Statement"]
    role = by_name(plan, "aws:iam/role:Role")["prod-observability-fluent-bit-role"]
    assert statement["Principal"] == {"AWS": plan.states[role.urn]["arn"]}
    assert statement["Resource"].endswith(":domain/af-prod-logs/*")
